"""A real Apache Flink session cluster on this machine, for the Beam
components: `python -m flink.cluster up|down|status` (`make flink-up`).

The layout is a Flink-on-Kubernetes one: the JobManager and Beam's Flink job
server on the host; each TaskManager in its own network namespace (its "pod")
with a Beam worker pool beside it at `localhost:50000`, the address the
pipeline's `--environment_config` names, so every TaskManager starts its
Python SDK workers in its own pool, as a sidecar would. A bridge joins the
namespaces to the host; no traffic leaves this machine's own interfaces.
One shared pool is not used: Beam's process-mode pool keys its workers by
worker id, and two TaskManagers ask for the same ids (README, "Flink").

Every process is started in its own session, its pid written under
`--state-dir`; `down` stops exactly those process groups, then removes the
namespaces and the bridge. Needs root (network namespaces), Java 17 and
Maven (the classpath comes from flink/pom.xml, cached under ~/.m2).
"""

import argparse
import dataclasses
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional, Tuple

from components import beam_runner

POM = pathlib.Path(__file__).with_name('pom.xml')
DEFAULT_STATE_DIR = pathlib.Path(__file__).resolve().parent.parent / '.flink'
PROJECT_ROOT = pathlib.Path(__file__).resolve().parent.parent

BRIDGE = 'mlflink0'
SUBNET_PREFIX = '10.77.0'
HOST_ADDRESS = f'{SUBNET_PREFIX}.1'  # the JobManager's RPC address
RPC_PORT = 6123
TASK_MANAGERS = 2
RESTART_SECONDS = 2  # a lost TaskManager's restart
START_TIMEOUT_SECONDS = 180

# Java 17 needs these for Flink 1.19 (Flink's own default config.yaml).
JAVA_OPTS = [
    '--add-exports=java.base/sun.net.util=ALL-UNNAMED',
    '--add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED',
    '--add-exports=java.security.jgss/sun.security.krb5=ALL-UNNAMED',
] + [f'--add-opens=java.base/{p}=ALL-UNNAMED' for p in (
    'java.lang', 'java.net', 'java.io', 'java.nio', 'sun.nio.ch',
    'java.lang.reflect', 'java.text', 'java.time', 'java.util',
    'java.util.concurrent', 'java.util.concurrent.atomic',
    'java.util.concurrent.locks')]


@dataclasses.dataclass(frozen=True)
class TaskManagerHost:
  """One TaskManager's namespace ("pod"), its address and interfaces."""
  index: int

  @property
  def namespace(self) -> str:
    return f'mlflink-tm{self.index}'

  @property
  def address(self) -> str:
    return f'{SUBNET_PREFIX}.{10 + self.index}'

  @property
  def host_veth(self) -> str:
    return f'mlfv{self.index}'

  @property
  def pod_veth(self) -> str:
    return f'mlfv{self.index}p'


def task_manager_hosts(count: int = TASK_MANAGERS) -> List[TaskManagerHost]:
  return [TaskManagerHost(i) for i in range(1, count + 1)]


def flink_config(state_dir: pathlib.Path) -> Dict[str, str]:
  """The cluster's flink-conf.yaml: one slot per TaskManager, a restart
  strategy so a lost TaskManager's tasks run again, fast loss detection."""
  return {
      'jobmanager.rpc.address': HOST_ADDRESS,
      'jobmanager.rpc.port': str(RPC_PORT),
      'jobmanager.bind-host': '0.0.0.0',
      'jobmanager.memory.process.size': '1024m',
      'rest.address': 'localhost',
      'rest.bind-address': '0.0.0.0',
      'rest.port': beam_runner.FLINK_MASTER.rsplit(':', 1)[1],
      'taskmanager.numberOfTaskSlots': '1',
      'taskmanager.bind-host': '0.0.0.0',
      'taskmanager.memory.process.size': '3072m',
      # Beam's gRPC channels to the SDK workers take their buffers from
      # direct memory; with Flink's default (none for tasks) ExampleGen at
      # 1M ratings failed with "OutOfMemoryError: Direct buffer memory".
      'taskmanager.memory.task.off-heap.size': '512m',
      # Beam's batch stages exchange data over many channels at once.
      'taskmanager.memory.network.min': '256m',
      'taskmanager.memory.network.max': '256m',
      # Each blocking result partition's sort-merge shuffle reserves this
      # many buffers (Flink's default, 512, is for wide jobs on big hosts).
      'taskmanager.network.sort-shuffle.min-buffers': '64',
      'parallelism.default': str(TASK_MANAGERS),
      # Beam's runner is on the TaskManagers' own classpath: loading it
      # parent-first lets a job's SDK workers serve all its stages
      # (beam_runner.FLINK_ENVIRONMENT_CACHE_MILLIS).
      'classloader.resolve-order': 'parent-first',
      # A lost TaskManager fails each of its running tasks at once: Flink
      # 1.19's exponential-delay strategy counts failures that come before
      # the restart as one attempt (fixed-delay and failure-rate count each
      # task and gave up at once).
      'restart-strategy.type': 'exponential-delay',
      'restart-strategy.exponential-delay.initial-backoff': '2 s',
      'restart-strategy.exponential-delay.max-backoff': '10 s',
      'restart-strategy.exponential-delay.backoff-multiplier': '2.0',
      'restart-strategy.exponential-delay.attempts-before-reset-backoff': '4',
      'restart-strategy.exponential-delay.reset-backoff-threshold': '1 min',
      'heartbeat.interval': '2000',
      'heartbeat.timeout': '15000',
      'io.tmp.dirs': str(state_dir / 'tmp'),
      'web.tmpdir': str(state_dir / 'tmp'),
      'blob.storage.directory': str(state_dir / 'tmp'),
  }


def classpath(state_dir: pathlib.Path) -> str:
  """Flink's and Beam's job server's jars, resolved by Maven from the pom
  (downloaded once into ~/.m2)."""
  out = state_dir / 'classpath.txt'
  if not out.exists() or out.stat().st_mtime < POM.stat().st_mtime:
    subprocess.run(['mvn', '-q', '-f', str(POM), 'dependency:build-classpath',
                    f'-Dmdep.outputFile={out}'], check=True)
  return out.read_text().strip()


def run(cmd: List[str], check: bool = True) -> subprocess.CompletedProcess:
  """Runs `cmd`; with `check`, a failure exits naming the command and what
  it said (e.g. `ip netns add` without root)."""
  result = subprocess.run(cmd, check=False, capture_output=True, text=True)
  if check and result.returncode:
    raise SystemExit(f'flink-up: `{" ".join(cmd)}` failed: '
                     f'{result.stderr.strip() or result.returncode}')
  return result


def network_up(hosts: List[TaskManagerHost]) -> None:
  """The bridge on the host and one namespace per TaskManager on it."""
  run(['ip', 'link', 'add', BRIDGE, 'type', 'bridge'])
  run(['ip', 'addr', 'add', f'{HOST_ADDRESS}/24', 'dev', BRIDGE])
  run(['ip', 'link', 'set', BRIDGE, 'up'])
  for host in hosts:
    ns = ['ip', 'netns', 'exec', host.namespace]
    run(['ip', 'netns', 'add', host.namespace])
    run(['ip', 'link', 'add', host.host_veth, 'type', 'veth', 'peer', 'name',
         host.pod_veth])
    run(['ip', 'link', 'set', host.pod_veth, 'netns', host.namespace])
    run(['ip', 'link', 'set', host.host_veth, 'master', BRIDGE])
    run(['ip', 'link', 'set', host.host_veth, 'up'])
    run(ns + ['ip', 'addr', 'add', f'{host.address}/24', 'dev',
              host.pod_veth])
    run(ns + ['ip', 'link', 'set', host.pod_veth, 'up'])
    run(ns + ['ip', 'link', 'set', 'lo', 'up'])


def network_down(hosts: List[TaskManagerHost]) -> None:
  for host in hosts:
    run(['ip', 'netns', 'del', host.namespace], check=False)
    run(['ip', 'link', 'del', host.host_veth], check=False)
  run(['ip', 'link', 'del', BRIDGE], check=False)


def start(state_dir: pathlib.Path, name: str, cmd: List[str],
          env: Optional[Dict[str, str]] = None) -> int:
  """Starts `cmd` in its own session, logging to logs/NAME.log; records
  its pid in pids.json."""
  log = open(state_dir / 'logs' / f'{name}.log', 'ab')  # pylint: disable=consider-using-with
  process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                             env=env, start_new_session=True,
                             cwd=PROJECT_ROOT)
  pids = read_pids(state_dir)
  pids[name] = process.pid
  (state_dir / 'pids.json').write_text(json.dumps(pids, indent=1))
  return process.pid


def read_pids(state_dir: pathlib.Path) -> Dict[str, int]:
  path = state_dir / 'pids.json'
  return json.loads(path.read_text()) if path.exists() else {}


def task_manager_resources(cp: str, conf_dir: pathlib.Path
                           ) -> Tuple[List[str], List[str]]:
  """The JVM options and the `-D key=value` memory settings that Flink's
  taskmanager.sh computes (BashJavaUtils); without them a TaskManager exits
  with "taskmanager.cpu.cores is not set"."""
  out = run(['java', '-cp', cp,
             'org.apache.flink.runtime.util.bash.BashJavaUtils',
             'GET_TM_RESOURCE_PARAMS', '--configDir', str(conf_dir)]).stdout
  results = [line.split(':', 1)[1] for line in out.splitlines()
             if line.startswith('BASH_JAVA_UTILS_EXEC_RESULT:')]
  return results[-2].split(), results[-1].split()


def supervised(cmd: List[str]) -> List[str]:
  """`cmd`, started again a few seconds after it exits, as Kubernetes
  restarts a TaskManager's pod: a lost TaskManager comes back and Flink's
  restart strategy reruns the job on it."""
  return ['bash', '-c', 'while :; do "$@"; echo "exited with $?; restarting"; '
          f'sleep {RESTART_SECONDS}; done', 'supervisor', *cmd]


def task_manager_jvm(state_dir: pathlib.Path, index: int) -> int:
  """The pid of TaskManager `index`'s JVM (its supervisor's child)."""
  supervisor = read_pids(state_dir)[f'taskmanager-{index}']
  children = pathlib.Path(
      f'/proc/{supervisor}/task/{supervisor}/children').read_text().split()
  (jvm,) = [int(c) for c in children
            if pathlib.Path(f'/proc/{c}/comm').read_text().strip() == 'java']
  return jvm


def worker_env() -> Dict[str, str]:
  """What the worker pools' SDK workers run with: this venv's python first
  on PATH (the pool starts `python`), legacy Keras, the project importable."""
  env = dict(os.environ)
  env['PATH'] = f'{pathlib.Path(sys.executable).parent}:{env["PATH"]}'
  env['TF_USE_LEGACY_KERAS'] = '1'
  env['PYTHONPATH'] = os.pathsep.join(
      p for p in (str(PROJECT_ROOT), env.get('PYTHONPATH')) if p)
  return env


def rest(path: str, timeout: float = 5) -> Any:
  """The cluster's REST API's answer at `path` (e.g. /jobs/overview)."""
  return beam_runner.flink_rest(beam_runner.FLINK_MASTER, path, timeout)


def overview() -> Optional[dict]:
  """The REST API's /overview, or None while it does not answer."""
  try:
    return rest('/overview', timeout=2)
  except OSError:
    return None


def port_open(address: str, namespace: Optional[str] = None) -> bool:
  if namespace is None:
    return beam_runner.connection_error(address, timeout=1) is None
  host, port = address.rsplit(':', 1)
  probe = (f'import socket,sys; s=socket.socket(); s.settimeout(1); '
           f'sys.exit(s.connect_ex(({host!r}, {port})))')
  return run(['ip', 'netns', 'exec', namespace, sys.executable, '-c', probe],
             check=False).returncode == 0


def wait_until(what: str, ready, state_dir: pathlib.Path,
               deadline: float) -> None:
  while not ready():
    dead = [name for name, pid in read_pids(state_dir).items()
            if not alive(pid)]
    if dead or time.time() > deadline:
      reason = (f'{", ".join(dead)} exited' if dead else
                f'not ready after {START_TIMEOUT_SECONDS} s')
      raise SystemExit(f'flink-up: {what}: {reason}; logs in '
                       f'{state_dir / "logs"}')
    time.sleep(0.5)


def alive(pid: int) -> bool:
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  # A child that exited but was not reaped is a zombie: not alive.
  fields = proc_stat(pid)
  return fields is not None and fields[0] != 'Z'


def proc_stat(pid: int) -> Optional[List[str]]:
  """/proc/PID/stat's fields after the command name (state, parent, process
  group, ...), or None once the process is gone."""
  try:
    text = pathlib.Path(f'/proc/{pid}/stat').read_text()
  except OSError:
    return None
  return text.rsplit(')', 1)[1].split()


def up(state_dir: pathlib.Path, task_managers: int = TASK_MANAGERS) -> None:
  """Starts the cluster; returns once REST reports every TaskManager and
  the job server and the pools accept connections."""
  began = time.time()
  for sub in ('logs', 'tmp', 'conf', 'artifacts'):
    (state_dir / sub).mkdir(parents=True, exist_ok=True)
  cp = classpath(state_dir)
  conf_dir = state_dir / 'conf'
  (conf_dir / 'flink-conf.yaml').write_text(''.join(
      f'{k}: {v}\n' for k, v in flink_config(state_dir).items()))
  hosts = task_manager_hosts(task_managers)
  network_down(hosts)  # leftovers of a cluster that was not taken down
  network_up(hosts)
  java = ['java', *JAVA_OPTS, '-cp', cp]
  deadline = began + START_TIMEOUT_SECONDS
  start(state_dir, 'jobmanager', java + [
      'org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint',
      '--configDir', str(conf_dir)])
  jvm_options, settings = task_manager_resources(cp, conf_dir)
  for host in hosts:
    ns = ['ip', 'netns', 'exec', host.namespace]
    start(state_dir, f'worker-pool-{host.index}', ns + [
        sys.executable, '-m', 'apache_beam.runners.worker.worker_pool_main',
        f'--service_port={beam_runner.WORKER_POOL.rsplit(":", 1)[1]}'],
          env=worker_env())
    task_manager = java + jvm_options + [
        'org.apache.flink.runtime.taskexecutor.TaskManagerRunner',
        '--configDir', str(conf_dir), *settings,
        '-D', f'taskmanager.host={host.address}']
    start(state_dir, f'taskmanager-{host.index}', ns + supervised(task_manager))
  job_host, job_port = beam_runner.FLINK_JOB_ENDPOINT.rsplit(':', 1)
  start(state_dir, 'job-server', java + [
      'org.apache.beam.runners.flink.FlinkJobServerDriver',
      f'--flink-master={beam_runner.FLINK_MASTER}',
      f'--job-host={job_host}', f'--job-port={job_port}',
      f'--artifact-port={int(job_port) - 1}',
      f'--expansion-port={int(job_port) - 2}',
      f'--artifacts-dir={state_dir / "artifacts"}',
      # Its jobs' default parallelism is the cluster's (else 1).
      f'--flink-conf-dir={conf_dir}'])
  wait_until(f'{task_managers} TaskManagers registered',
             lambda: (overview() or {}).get('taskmanagers') == task_managers,
             state_dir, deadline)
  wait_until('the job server', lambda: port_open(
      beam_runner.FLINK_JOB_ENDPOINT), state_dir, deadline)
  for host in hosts:
    wait_until(f'the worker pool of {host.namespace}', lambda h=host: port_open(
        beam_runner.WORKER_POOL, h.namespace), state_dir, deadline)
  print(f'flink-up: JobManager, {task_managers} TaskManagers, job server at '
        f'{beam_runner.FLINK_JOB_ENDPOINT} and worker pools up in '
        f'{time.time() - began:.1f} s (REST http://{beam_runner.FLINK_MASTER})')


def refuse_a_second_cluster(state_dir: pathlib.Path) -> None:
  """Exits, starting nothing, when this or another checkout's cluster
  holds the addresses."""
  if read_pids(state_dir):
    raise SystemExit(f'flink-up: a cluster from {state_dir} is running; '
                     '`make flink-down` first')
  if overview() is not None or port_open(beam_runner.FLINK_JOB_ENDPOINT):
    raise SystemExit(
        f'flink-up: a Flink cluster or job server already answers at '
        f'{beam_runner.FLINK_MASTER} / {beam_runner.FLINK_JOB_ENDPOINT} (from '
        'another checkout?); stop it first')


def down(state_dir: pathlib.Path, task_managers: int = TASK_MANAGERS) -> None:
  """Stops the process groups `up` started, then removes the namespaces
  and the bridge."""
  pids = stop_processes(state_dir)
  network_down(task_manager_hosts(task_managers))
  shutil.rmtree(state_dir / 'tmp', ignore_errors=True)
  print(f'flink-down: stopped {len(pids)} process groups'
        + (f' ({", ".join(pids)})' if pids else ''))


def stop_processes(state_dir: pathlib.Path) -> Dict[str, int]:
  """Stops the process groups in pids.json (TERM, then KILL after 10 s);
  returns what it stopped."""
  pids = read_pids(state_dir)
  for pid in pids.values():
    signal_group(pid, signal.SIGTERM)
  deadline = time.time() + 10
  while time.time() < deadline and any(group_alive(p) for p in pids.values()):
    time.sleep(0.2)
  for pid in pids.values():
    signal_group(pid, signal.SIGKILL)
  (state_dir / 'pids.json').unlink(missing_ok=True)
  return pids


def signal_group(pid: int, sig: int) -> None:
  try:
    os.killpg(pid, sig)
  except ProcessLookupError:
    pass


def group_alive(pgid: int) -> bool:
  """Whether any process of the group `pgid` is still running."""
  for path in pathlib.Path('/proc').glob('[0-9]*'):
    fields = proc_stat(int(path.name))
    if fields and int(fields[2]) == pgid and fields[0] != 'Z':
      return True
  return False


def status(state_dir: pathlib.Path) -> int:
  pids = read_pids(state_dir)
  for name, pid in pids.items():
    print(f'{name}: pid {pid} {"running" if alive(pid) else "exited"}')
  print(f'REST /overview: {json.dumps(overview())}')
  return 0 if pids and all(alive(p) for p in pids.values()) else 1


def main(argv: Optional[List[str]] = None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('command', choices=('up', 'down', 'status'))
  parser.add_argument('--state-dir', type=pathlib.Path,
                      default=DEFAULT_STATE_DIR,
                      help='pids, logs, config and Flink temp files')
  args = parser.parse_args(argv)
  state_dir = args.state_dir.resolve()
  if args.command == 'up':
    refuse_a_second_cluster(state_dir)
    try:
      up(state_dir)
    except BaseException:
      down(state_dir)
      raise
    return 0
  if args.command == 'down':
    down(state_dir)
    return 0
  return status(state_dir)


if __name__ == '__main__':
  sys.exit(main())
