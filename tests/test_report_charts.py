"""The report keeps a chart whose inputs did not change (report.Charts)."""

import json

from pipeline import report


class Drawer:
  """Draws a file and returns a value a chart's caller renders."""

  def __init__(self):
    self.calls = 0

  def __call__(self, path: str):
    self.calls += 1
    with open(path, 'w') as f:
      f.write(f'drawing {self.calls}')
    return [('Speed (1994)', 0.5, 4.0)]


def draw_in_a_new_report(report_dir: str, inputs, drawer: Drawer):
  charts = report.Charts(report_dir)
  returned = charts.draw('chart.png', inputs, drawer)
  charts.save()
  return returned


def test_same_inputs_keep_the_chart_and_what_drawing_returned(tmp_path):
  drawer = Drawer()
  first = draw_in_a_new_report(str(tmp_path), ['model/1', 20_000], drawer)
  again = draw_in_a_new_report(str(tmp_path), ['model/1', 20_000], drawer)
  assert drawer.calls == 1
  assert first == again == [['Speed (1994)', 0.5, 4.0]]
  assert (tmp_path / 'chart.png').read_text() == 'drawing 1'


def test_changed_inputs_or_a_missing_chart_draw_again(tmp_path):
  drawer = Drawer()
  draw_in_a_new_report(str(tmp_path), ['model/1'], drawer)
  draw_in_a_new_report(str(tmp_path), ['model/2'], drawer)
  assert drawer.calls == 2
  (tmp_path / 'chart.png').unlink()
  draw_in_a_new_report(str(tmp_path), ['model/2'], drawer)
  assert drawer.calls == 3
  assert (tmp_path / 'chart.png').read_text() == 'drawing 3'
  kept = json.loads((tmp_path / 'charts.json').read_text())
  assert json.loads(kept['chart.png']['inputs']) == ['model/2']
