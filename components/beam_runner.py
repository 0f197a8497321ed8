"""Which Beam runner a component's `beam_pipeline_args` ask for: the one
answer the runners' defaults (pipeline/cli.py) and ExampleGen's DirectRunner
path (components/movielens_example_gen.py) both use."""

import json
import re
import socket
import urllib.request
from typing import Any, List, Optional

DIRECT = 'direct'
FLINK = 'flink'
ENGINES = (DIRECT, FLINK)  # pipeline/cli.py's --beam-engine

# The local Flink cluster's addresses (flink/cluster.py, `make flink-up`):
# its REST API, Beam's Flink job server, and the worker pool each
# TaskManager finds beside it.
FLINK_MASTER = 'localhost:8081'
FLINK_JOB_ENDPOINT = 'localhost:8099'
WORKER_POOL = 'localhost:50000'

DIRECT_RUNNERS = ('DirectRunner', 'direct', 'BundleBasedDirectRunner',
                  'SwitchingDirectRunner')


def runner_name(beam_pipeline_args: Optional[List[str]]) -> str:
  """The runner Beam will use: `--runner=X` or `--runner X`, parsed by
  Beam's own options; DirectRunner when none is given."""
  # Imported here: the runners read their flags before logging is set up,
  # and Beam's import warns (pipeline/logs.py).
  from apache_beam.options.pipeline_options import PipelineOptions  # pylint: disable=g-import-not-at-top
  from apache_beam.options.pipeline_options import StandardOptions  # pylint: disable=g-import-not-at-top
  options = PipelineOptions(list(beam_pipeline_args or []))
  return options.view_as(StandardOptions).runner or 'DirectRunner'


def is_direct_runner(beam_pipeline_args: Optional[List[str]]) -> bool:
  """Whether Beam runs in this machine's DirectRunner."""
  return runner_name(beam_pipeline_args) in DIRECT_RUNNERS


# With --beam-engine flink, the workers are pools with this project's
# environment; naming an image spares TFX packing its own installation for
# them (as configs.DIRECT_RUNNER_WORKER_IMAGE does). An EXTERNAL environment
# never starts it.
FLINK_WORKER_POOL_IMAGE = 'flink-worker-pools:this-python-environment'


# How long a TaskManager keeps a job's SDK workers after its last stage
# that used them ended, for the job's next stage. Beam's Flink runner honours
# it only when its classes load parent-first (flink/cluster.py); else every
# stage started its own SDK workers (each importing TensorFlow).
FLINK_ENVIRONMENT_CACHE_MILLIS = 60_000


def flink_args(flink_master: str, job_endpoint: str,
               worker_pool: str) -> List[str]:
  """Beam args for a Flink cluster behind Beam's Flink job server: each
  TaskManager starts its SDK workers in the pool at `worker_pool` (an
  EXTERNAL environment), as on Flink-on-Kubernetes with pools as sidecars."""
  return ['--runner=FlinkRunner', f'--flink_master={flink_master}',
          f'--job_endpoint={job_endpoint}', '--environment_type=EXTERNAL',
          f'--environment_config={worker_pool}',
          f'--sdk_container_image={FLINK_WORKER_POOL_IMAGE}',
          f'--environment_cache_millis={FLINK_ENVIRONMENT_CACHE_MILLIS}']


class JobServerUnreachableError(ConnectionError):
  """The Beam job server the args name does not accept connections."""


def check_job_server(beam_pipeline_args: List[str]) -> None:
  """Raises JobServerUnreachableError, before anything runs, when the args
  send the Beam components to a job server nobody listens at."""
  from apache_beam.options.pipeline_options import PipelineOptions  # pylint: disable=g-import-not-at-top
  from apache_beam.options.pipeline_options import PortableOptions  # pylint: disable=g-import-not-at-top
  endpoint = PipelineOptions(list(beam_pipeline_args)).view_as(
      PortableOptions).job_endpoint
  if not endpoint or endpoint == 'embed':
    return
  refused = connection_error(endpoint)
  if refused:
    raise JobServerUnreachableError(
        f'no Beam job server answers at {endpoint} ({refused}); `make '
        'flink-up` starts a local Flink cluster and its job server')


def connection_error(address: str, timeout: float = 5) -> Optional[str]:
  """Why `host:port` does not accept a TCP connection; None when it does."""
  host, port = address.rsplit(':', 1)
  try:
    socket.create_connection((host, int(port)), timeout=timeout).close()
  except OSError as error:
    return error.strerror or str(error)
  return None


def flink_rest(flink_master: str, path: str, timeout: float = 5) -> Any:
  """A Flink cluster's REST API's answer at `path` (e.g. /jobs/overview)."""
  with urllib.request.urlopen(f'http://{flink_master}{path}',
                              timeout=timeout) as r:
    return json.load(r)


# How Beam's portable runner reports a failed job: its id is the Flink job's
# name, a '_' and a uuid.
_FAILED_JOB = re.compile(
    r'Pipeline (\S+?)_[0-9a-f-]{36} failed(?: in state \w+)?:? ?(.*)')


def flink_failure_cause(beam_pipeline_args: List[str],
                        error: str) -> Optional[str]:
  """Why a Beam job failed on Flink, in one line, where the job server's
  message does not say (it keeps only the root exception, e.g. "Connection
  refused"): read from the failed job's exceptions on the cluster's REST
  API. Says that the cluster does not answer, or which TaskManager could
  not reach its worker pool; None for other failures and other runners."""
  from apache_beam.options.pipeline_options import FlinkRunnerOptions  # pylint: disable=g-import-not-at-top
  from apache_beam.options.pipeline_options import PipelineOptions  # pylint: disable=g-import-not-at-top
  from apache_beam.options.pipeline_options import PortableOptions  # pylint: disable=g-import-not-at-top
  failed = _FAILED_JOB.search(error)
  options = PipelineOptions(list(beam_pipeline_args))
  master = options.view_as(FlinkRunnerOptions).flink_master
  if not failed or runner_name(beam_pipeline_args) != 'FlinkRunner' or (
      not master or master.startswith('[')):  # [auto], [local]: no REST
    return None
  refused = connection_error(master)
  if refused:
    return (f'the Flink cluster at {master} (--flink-master) does not answer '
            f'({refused}); the job server reported: {failed.group(2)}')
  try:
    jobs = flink_rest(master, '/jobs/overview')['jobs']
    [job] = [j['jid'] for j in jobs if j['name'] == failed.group(1)] or [None]
    entries = (flink_rest(master, f'/jobs/{job}/exceptions')
               ['exceptionHistory']['entries'] if job else [])
  except (OSError, ValueError, KeyError):
    return None
  located_first = sorted(
      (c for e in entries for c in [e, *e.get('concurrentExceptions', [])]),
      key=lambda entry: not entry.get('location'))
  for entry in located_first:
    if 'ExternalEnvironmentFactory.createEnvironment' in entry['stacktrace']:
      pool = options.view_as(PortableOptions).environment_config
      causes = [line for line in entry['stacktrace'].splitlines()
                if line.startswith('Caused by: ')]
      reason = (causes or [entry['stacktrace'].strip()])[-1].rsplit(': ', 1)[-1]
      where = (f"the TaskManager at {entry['location'].split(':')[0]}"
               if entry.get('location') else 'a TaskManager')
      return (f'{where} could not start SDK workers in its Beam worker pool '
              f'at {pool} (--worker-pool): {reason}')
  return None
