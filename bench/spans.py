"""Cuts a ratings CSV into periods by timestamp: a folder of spans.

  python -m bench.spans --ratings-csv ratings.csv --out DIR --days 7 \\
      [--first-days 56]

Writes DIR/span-1/ratings.csv, DIR/span-2/ratings.csv, ... (the CSV's own
header and rows, in their order), each the ratings of one period of `days`
days from the first rating; with `--first-days`, span 1 is that longer first
period. A period without ratings is left out (the next one takes its
number), so span numbers have no gap. DIR/spans.json says which period each
span holds. The pipeline reads the folder with `--ratings-dir DIR`.
"""

import argparse
import csv
import json
import os
import sys
from typing import Dict, List, Optional

from trainer_module import features

DAY_SECONDS = 86_400
SPANS_FILE = 'spans.json'


def period_of(timestamp: int, start: int, days: int, first_days: int) -> int:
  """0 for the first period (`first_days` long), then one per `days`."""
  seconds = timestamp - start
  if seconds < first_days * DAY_SECONDS:
    return 0
  return 1 + (seconds - first_days * DAY_SECONDS) // (days * DAY_SECONDS)


def cut(ratings_csv: str, out_dir: str, days: int = 7,
        first_days: Optional[int] = None,
        encoding: str = 'utf-8') -> List[Dict[str, int]]:
  """Writes the spans; returns, per span, its number, first and last
  timestamp and ratings."""
  if days <= 0 or (first_days is not None and first_days <= 0):
    raise ValueError('--days and --first-days must be positive')
  with open(ratings_csv, newline='', encoding=encoding) as f:
    reader = csv.reader(f)
    header = next(reader)
    if features.TIMESTAMP_KEY not in header:
      raise ValueError(f'{ratings_csv}: no {features.TIMESTAMP_KEY} column')
    column = header.index(features.TIMESTAMP_KEY)
    rows = [row for row in reader if row]
  if not rows:
    raise ValueError(f'{ratings_csv}: no ratings')
  times = [int(row[column]) for row in rows]
  start = min(times)
  periods: Dict[int, List[int]] = {}
  for index, timestamp in enumerate(times):
    periods.setdefault(period_of(timestamp, start, days,
                                 first_days or days), []).append(index)
  written = []
  for number, period in enumerate(sorted(periods), start=1):
    folder = os.path.join(out_dir, f'span-{number}')
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, 'ratings.csv'), 'w', newline='',
              encoding=encoding) as f:
      writer = csv.writer(f)
      writer.writerow(header)
      writer.writerows(rows[i] for i in periods[period])
    span_times = [times[i] for i in periods[period]]
    written.append({'span': number, 'first': min(span_times),
                    'last': max(span_times), 'ratings': len(span_times)})
  with open(os.path.join(out_dir, SPANS_FILE), 'w') as f:
    json.dump({'source': os.path.abspath(ratings_csv), 'days': days,
               'first_days': first_days or days, 'spans': written}, f,
              indent=1)
  return written


def main(argv: Optional[List[str]] = None) -> int:
  parser = argparse.ArgumentParser(prog='python -m bench.spans',
                                   description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--ratings-csv', required=True)
  parser.add_argument('--out', required=True)
  parser.add_argument('--days', type=int, default=7)
  parser.add_argument('--first-days', type=int, default=None)
  parser.add_argument('--csv-encoding', default='utf-8')
  args = parser.parse_args(argv)
  for span in cut(args.ratings_csv, args.out, args.days, args.first_days,
                  args.csv_encoding):
    print(f"span-{span['span']}: {span['ratings']} ratings")
  return 0


if __name__ == '__main__':
  sys.exit(main())
