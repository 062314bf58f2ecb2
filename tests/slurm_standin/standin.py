"""A SLURM stand-in for tests: the commands snakemake-executor-plugin-slurm calls, run locally.

Each executable in this folder (sbatch, sacct, squeue, scontrol, sinfo, scancel, srun,
sacctmgr, sshare) is a two-line wrapper around :func:`main`. Put the folder first on PATH and
the plugin submits to this "cluster": every job runs at once on this machine, in the background.

Environment variables:

``STANDIN_SLURM_DIR``
    state folder (job records, job id counter, scripts); default ``./.standin_slurm``.
``STANDIN_SLURM_LOG``
    JSON-lines log, one line per ``sbatch`` (its argv, the parsed flags, the job script, the
    rule) and per ``srun`` call; default ``$STANDIN_SLURM_DIR/calls.jsonl``.
``STANDIN_SLURM_FAIL_RULE``
    comma-separated rule names: jobs of these rules run ``exit 1`` instead of their script
    (state ``FAILED``, exit code 1).
``STANDIN_SLURM_PREEMPT``
    ``rule:path``: the first run of a job of that rule is preempted (its processes killed,
    state ``PREEMPTED``) as soon as ``path`` (relative to the job's working directory) exists;
    with ``--requeue`` it is then requeued and runs its script again under the same job id,
    as SLURM does, otherwise it stays ``PREEMPTED``.
``STANDIN_SLURM_ACCOUNTS``
    accounts ``sacctmgr``/``sshare`` list for the user (comma-separated; default ``standin``).
``STANDIN_SLURM_PARTITIONS``
    partitions ``sinfo`` lists, the default one marked with ``*`` (default ``cpu*,gpu``).
``STANDIN_SLURM_POLL_SECONDS``
    status queries by job name (the plugin's ``sacct --name <run>`` / ``squeue --name <run>``)
    wait up to this long (default 20) for a job of the run to finish before answering, so that
    tests do not sit out the plugin's growing pause between status checks. Only the timing
    differs from SLURM's answer, never the content.

The variables are not named ``SLURM_*``: the plugin's jobstep executor removes ``SLURM_*``
variables (all but the job's identity) from the environment of the ``srun`` it starts inside a job.
Jobs get what SLURM would set for them (``SLURM_JOB_ID``, ``SLURM_GPUS``, ``SLURM_CPUS_PER_TASK``,
...). Only the standard library is used.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

TERMINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL",
            "BOOT_FAIL", "DEADLINE"}
HERE = Path(__file__).resolve().parent

# sbatch options that take their value as the next argument (when not written --opt=value)
SBATCH_VALUE_OPTS = {
    "-A": "account", "--account": "account", "-p": "partition", "--partition": "partition",
    "-J": "job-name", "--job-name": "job-name", "-o": "output", "--output": "output",
    "-e": "error", "--error": "error", "-t": "time", "--time": "time", "-C": "constraint",
    "--constraint": "constraint", "--mem": "mem", "--mem-per-cpu": "mem-per-cpu",
    "-D": "chdir", "--chdir": "chdir", "--comment": "comment", "-n": "ntasks",
    "--ntasks": "ntasks", "-c": "cpus-per-task", "--cpus-per-task": "cpus-per-task",
    "--cpus-per-gpu": "cpus-per-gpu", "-G": "gpus", "--gpus": "gpus", "--gres": "gres",
    "-N": "nodes", "--nodes": "nodes", "--qos": "qos", "-q": "qos", "--clusters": "clusters",
    "-M": "clusters", "--wrap": "wrap", "--array": "array", "-a": "array",
    "--ntasks-per-gpu": "ntasks-per-gpu", "--ntasks-per-node": "ntasks-per-node",
    "--reservation": "reservation", "--exclude": "exclude", "-x": "exclude",
    "--export": "export",
}
SBATCH_FLAGS = {"--parsable": "parsable", "--requeue": "requeue", "--no-requeue": "no-requeue",
                "--exclusive": "exclusive"}
SRUN_VALUE_SHORT = {"-n", "-c", "-N", "-J", "-p", "-A", "-t", "-G", "-o", "-e", "-D", "-w", "-x"}


# ----------------------------------------------------------------------------- state

def state_dir() -> Path:
    d = Path(os.environ.get("STANDIN_SLURM_DIR") or Path.cwd() / ".standin_slurm").resolve()
    (d / "jobs").mkdir(parents=True, exist_ok=True)
    return d


def log_path() -> Path:
    return Path(os.environ.get("STANDIN_SLURM_LOG") or state_dir() / "calls.jsonl")


@contextlib.contextmanager
def locked(name: str = "lock"):
    with open(state_dir() / name, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield fh
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def append_log(entry: dict) -> None:
    path = log_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with locked("log.lock"):
        with open(path, "a") as fh:
            fh.write(json.dumps(entry, sort_keys=True) + "\n")


def job_file(jobid: str) -> Path:
    return state_dir() / "jobs" / f"{jobid}.json"


def read_job(jobid: str) -> dict | None:
    try:
        return json.loads(job_file(jobid).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def write_job(job: dict) -> None:
    path = job_file(job["id"])
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(job, sort_keys=True))
    os.replace(tmp, path)


def update_job(jobid: str, **changes) -> dict:
    with locked("jobs.lock"):
        job = read_job(jobid) or {"id": jobid}
        if job.get("state") == "CANCELLED" and changes.get("state") not in (None, "CANCELLED"):
            changes.pop("state")  # scancel wins over a job that ends afterwards
        job.update(changes)
        write_job(job)
        return job


def all_jobs() -> list[dict]:
    jobs = []
    for f in sorted((state_dir() / "jobs").glob("*.json"), key=lambda p: int(p.stem)):
        job = read_job(f.stem)
        if job:
            jobs.append(job)
    return jobs


def next_jobid() -> str:
    with locked("counter.lock"):
        counter = state_dir() / "counter"
        n = int(counter.read_text()) + 1 if counter.exists() else 1001
        counter.write_text(str(n))
    return str(n)


# ----------------------------------------------------------------------------- sbatch

def parse_sbatch(argv: list[str]) -> tuple[dict, list[str]]:
    opts: dict = {}
    positional: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in SBATCH_FLAGS:
            opts[SBATCH_FLAGS[a]] = True
        elif a.startswith("--") and "=" in a:
            k, v = a.split("=", 1)
            opts[SBATCH_VALUE_OPTS.get(k, k.lstrip("-"))] = v
        elif a in SBATCH_VALUE_OPTS:
            if i + 1 >= len(argv):
                raise SystemExit(f"sbatch: error: option {a} requires an argument")
            opts[SBATCH_VALUE_OPTS[a]] = argv[i + 1]
            i += 1
        elif len(a) > 2 and a[:2] in SBATCH_VALUE_OPTS and not a.startswith("--"):
            opts[SBATCH_VALUE_OPTS[a[:2]]] = a[2:]  # -pgpu, -n1
        elif a.startswith("-") and a != "-":
            opts[a.lstrip("-")] = True
        else:
            positional = argv[i:]
            break
        i += 1
    return opts, positional


def rule_of(comment: str | None) -> str | None:
    """The rule name in the plugin's job comment: ``rule_<name>[_wildcards_<...>]``."""
    if not comment:
        return None
    m = re.match(r"^(?:rule|group)_(.+?)(?:_wildcards_.*)?$", comment)
    return m.group(1) if m else comment


def gpu_request(opts: dict) -> str | None:
    """What the submission asks of GPUs (--gpus or a gpu GRES), e.g. '1', 'a100:1', 'gpu:1'."""
    if opts.get("gpus"):
        return str(opts["gpus"])
    gres = str(opts.get("gres") or "")
    if gres.startswith("gpu"):
        return gres
    return None


def sbatch(argv: list[str]) -> int:
    opts, positional = parse_sbatch(argv)
    if "array" in opts:
        print("sbatch: error: the SLURM stand-in does not run job arrays", file=sys.stderr)
        return 1
    if "wrap" in opts:
        script = "#!/bin/sh\n" + opts["wrap"] + "\n"
    elif positional:
        src = positional[0]
        script = sys.stdin.read() if src in ("-", "/dev/stdin") else Path(src).read_text()
    else:
        script = sys.stdin.read()
    if not script.strip():
        print("sbatch: error: no job script", file=sys.stderr)
        return 1

    jobid = next_jobid()
    workdir = str(Path(opts.get("chdir") or os.getcwd()).resolve())
    output = opts.get("output") or f"slurm-{jobid}.out"
    output = output.replace("%j", jobid).replace("%A", jobid).replace("%a", "0")
    if not os.path.isabs(output):
        output = os.path.join(workdir, output)
    rule = rule_of(opts.get("comment"))
    fail_rules = {r.strip() for r in os.environ.get("STANDIN_SLURM_FAIL_RULE", "").split(",")
                  if r.strip()}
    preempt = os.environ.get("STANDIN_SLURM_PREEMPT", "")
    preempt_rule, _, preempt_path = preempt.partition(":")
    script_path = state_dir() / "jobs" / f"{jobid}.sh"
    script_path.write_text(script)
    job = {
        "id": jobid, "name": opts.get("job-name", ""), "comment": opts.get("comment", ""),
        "rule": rule, "partition": opts.get("partition") or default_partition(),
        "account": opts.get("account", ""), "gpus": gpu_request(opts), "flags": opts,
        "workdir": workdir, "output": output, "script": str(script_path),
        "forced_failure": rule in fail_rules,
        "preempt_at": preempt_path if preempt_rule and preempt_rule == rule else None,
        "requeue": bool(opts.get("requeue")), "restarts": 0,
        "state": "PENDING", "exit_code": "0:0", "submitted": time.time(),
    }
    with locked("jobs.lock"):
        write_job(job)
    append_log({"cmd": "sbatch", "argv": argv, "jobid": jobid, "flags": opts, "rule": rule,
                "comment": opts.get("comment", ""), "gpus": job["gpus"], "script": script,
                "forced_failure": job["forced_failure"]})
    subprocess.Popen(
        [sys.executable, str(HERE / "standin.py"), "_run", jobid],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, close_fds=True, env=dict(os.environ),
    )
    if opts.get("parsable"):
        print(jobid)
    else:
        print(f"Submitted batch job {jobid}")
    return 0


def job_env(job: dict) -> dict:
    env = dict(os.environ)  # --export=ALL: the environment sbatch was called with
    flags = job["flags"]
    env.update({
        "SLURM_JOB_ID": job["id"], "SLURM_JOBID": job["id"], "SLURM_JOB_NAME": job["name"],
        "SLURM_SUBMIT_DIR": job["workdir"], "SLURM_JOB_PARTITION": job["partition"],
        "SLURM_CLUSTER_NAME": "standin", "SLURM_JOB_NUM_NODES": "1",
        "SLURM_NODELIST": "standin-node", "SLURMD_NODENAME": "standin-node",
        "SLURM_RESTART_COUNT": str(job.get("restarts", 0)),
    })
    if job.get("account"):
        env["SLURM_JOB_ACCOUNT"] = job["account"]
    if flags.get("cpus-per-task"):
        env["SLURM_CPUS_PER_TASK"] = str(flags["cpus-per-task"])
    if flags.get("cpus-per-gpu"):
        env["SLURM_CPUS_PER_GPU"] = str(flags["cpus-per-gpu"])
    if job.get("gpus"):
        env["SLURM_GPUS"] = job["gpus"]
    if flags.get("mem"):
        env["SLURM_MEM_PER_NODE"] = str(flags["mem"])
    return env


def run_job(jobid: str) -> int:
    """The detached runner of one job (``standin.py _run <id>``)."""
    job = read_job(jobid)
    while True:
        job = update_job(jobid, state="RUNNING", started=time.time())
        if job["state"] == "CANCELLED":
            return 0
        Path(job["output"]).parent.mkdir(parents=True, exist_ok=True)
        with open(job["output"], "a") as out:
            if job["forced_failure"]:
                cmd = ["/bin/sh", "-c", "echo 'slurm stand-in: forced failure of this job' >&2; exit 1"]
            else:
                cmd = ["/bin/sh", job["script"]]
            proc = subprocess.Popen(cmd, cwd=job["workdir"], env=job_env(job), stdout=out,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
            update_job(jobid, pgid=proc.pid)
            preempted = False
            if job.get("preempt_at") and job.get("restarts", 0) == 0:
                trigger = Path(job["workdir"]) / job["preempt_at"]
                while proc.poll() is None:
                    if trigger.exists():
                        with contextlib.suppress(ProcessLookupError):
                            os.killpg(proc.pid, signal.SIGKILL)
                        proc.wait()
                        preempted = True
                        break
                    time.sleep(0.02)
            rc = proc.wait()
        if preempted:
            with open(job["output"], "a") as out:
                print("slurm stand-in: job preempted", file=out)
            job = update_job(jobid, state="PREEMPTED", exit_code="0:9")
            append_log({"cmd": "preempt", "jobid": jobid, "rule": job["rule"],
                        "requeue": job["requeue"]})
            if not job["requeue"]:
                return 0
            time.sleep(0.5)
            update_job(jobid, state="PENDING", restarts=job.get("restarts", 0) + 1)
            continue
        state = "COMPLETED" if rc == 0 else "FAILED"
        update_job(jobid, state=state, exit_code=f"{rc if rc >= 0 else 0}:{-rc if rc < 0 else 0}",
                   ended=time.time())
        return 0


# ----------------------------------------------------------------------------- queries

def default_partition() -> str:
    parts = os.environ.get("STANDIN_SLURM_PARTITIONS", "cpu*,gpu").split(",")
    for p in parts:
        if p.endswith("*"):
            return p[:-1]
    return parts[0] if parts else ""


FIELDS = {
    "jobidraw": lambda j: j["id"], "jobid": lambda j: j["id"], "state": lambda j: j["state"],
    "jobname": lambda j: j["name"], "comment": lambda j: j["comment"],
    "partition": lambda j: j["partition"], "account": lambda j: j.get("account", ""),
    "exitcode": lambda j: j["exit_code"], "nodelist": lambda j: "standin-node",
    "reason": lambda j: "None",
}


def _field(job: dict, name: str) -> str:
    key = re.sub(r"%-?\d+$", "", name).strip().lower()
    f = FIELDS.get(key)
    return f(job) if f else ""


def wait_for_news(name: str) -> None:
    """Long poll: return once a job of run ``name`` has finished since the last answer."""
    limit = float(os.environ.get("STANDIN_SLURM_POLL_SECONDS", "20"))
    seen_file = state_dir() / f"announced_{re.sub(r'[^A-Za-z0-9_-]', '_', name)}.json"
    try:
        announced = set(json.loads(seen_file.read_text()))
    except (FileNotFoundError, json.JSONDecodeError):
        announced = set()
    deadline = time.time() + limit
    while True:
        jobs = [j for j in all_jobs() if j["name"] == name]
        finished = {f"{j['id']}:{j['state']}" for j in jobs if j["state"] in TERMINAL}
        active = [j for j in jobs if j["state"] not in TERMINAL]
        if finished - announced or not active or time.time() >= deadline:
            seen_file.write_text(json.dumps(sorted(announced | finished)))
            return
        time.sleep(0.1)


def sacct(argv: list[str]) -> int:
    ids: list[str] | None = None
    name = None
    fmt = ["JobID", "JobName", "Partition", "Account", "State", "ExitCode"]
    parsable, header = False, True
    user_query = False
    i = 0
    while i < len(argv):
        a = argv[i]
        nxt = argv[i + 1] if i + 1 < len(argv) else ""
        if a in ("-j", "--jobs"):
            ids, i = nxt.split(","), i + 1
        elif a.startswith("--jobs="):
            ids = a.split("=", 1)[1].split(",")
        elif a in ("--name", "--jobname"):
            name, i = nxt, i + 1
        elif a.startswith("--name="):
            name = a.split("=", 1)[1]
        elif a in ("-o", "--format"):
            fmt, i = nxt.split(","), i + 1
        elif a.startswith("--format="):
            fmt = a.split("=", 1)[1].split(",")
        elif a in ("-p", "--parsable", "-P", "--parsable2"):
            parsable = True
        elif a in ("-n", "--noheader"):
            header = False
        elif a == "-nu":  # -n -u <user>
            header, user_query, i = False, True, i + 1
        elif a in ("-u", "--user"):
            user_query, i = True, i + 1
        elif a in ("-S", "--starttime", "-E", "--endtime", "-M", "--clusters"):
            i += 1
        i += 1
    if user_query and ids is None and name is None:
        # the plugin guesses an account from the user's recent jobs
        print(os.environ.get("STANDIN_SLURM_GUESSED_ACCOUNT", ""))
        return 0
    if name is not None:
        wait_for_news(name)
    jobs = all_jobs()
    step = None
    if ids is not None:
        wanted = set()
        for jid in ids:
            base, _, st = jid.partition(".")
            wanted.add(base)
            step = st or None
        jobs = [j for j in jobs if j["id"] in wanted]
        if step is not None and step not in ("0", "batch"):
            return 0  # only one step per job here
    if name is not None:
        jobs = [j for j in jobs if j["name"] == name]
    sep = "|"
    rows = [[_field(j, f) for f in fmt] for j in jobs]
    if header:
        rows.insert(0, [re.sub(r"%-?\d+$", "", f) for f in fmt])
    for r in rows:
        print(sep.join(r) if parsable else " ".join(f"{c:<12}" for c in r).rstrip())
    return 0


def squeue(argv: list[str]) -> int:
    fmt = "%.18i %.9P %.8j %.8u %.2t %.10M %.6D %R"
    name = None
    header = True
    ids = None
    i = 0
    while i < len(argv):
        a = argv[i]
        nxt = argv[i + 1] if i + 1 < len(argv) else ""
        if a.startswith("--format=") or a.startswith("-o="):
            fmt = a.split("=", 1)[1]
        elif a in ("-o", "--format"):
            fmt, i = nxt, i + 1
        elif a.startswith("--name="):
            name = a.split("=", 1)[1]
        elif a in ("-n", "--name"):
            name, i = nxt, i + 1
        elif a in ("-j", "--jobs"):
            ids, i = nxt.split(","), i + 1
        elif a in ("-h", "--noheader"):
            header = False
        i += 1
    if name is not None:
        wait_for_news(name)
    jobs = [j for j in all_jobs() if (name is None or j["name"] == name)
            and (ids is None or j["id"] in ids)]
    codes = {"i": "id", "T": "state", "j": "name", "P": "partition", "a": "account"}

    def fill(job):
        return re.sub(r"%\.?-?\d*([a-zA-Z])",
                      lambda m: str(job.get(codes.get(m.group(1), ""), "")), fmt)

    if header:
        print(re.sub(r"%\.?-?\d*([a-zA-Z])", lambda m: codes.get(m.group(1), m.group(1)).upper(),
                     fmt))
    for j in jobs:
        print(fill(j))
    return 0


def scontrol(argv: list[str]) -> int:
    if argv[:2] == ["show", "config"]:
        print("Configuration data as of standin\n"
              "ClusterName             = standin\n"
              "MaxArraySize            = 1001\n"
              "MinJobAge               = 300 sec\n"
              "SLURM_VERSION           = 23.02.0")
        return 0
    if argv[:2] == ["show", "job"] and len(argv) > 2:
        job = read_job(argv[2])
        if not job:
            print("slurm_load_jobs error: Invalid job id specified", file=sys.stderr)
            return 1
        print(f"JobId={job['id']} JobName={job['name']} JobState={job['state']} "
              f"Partition={job['partition']} Comment={job['comment']}")
        return 0
    print(f"scontrol (stand-in): unsupported: {' '.join(argv)}", file=sys.stderr)
    return 1


def sinfo(argv: list[str]) -> int:
    parts = os.environ.get("STANDIN_SLURM_PARTITIONS", "cpu*,gpu").split(",")
    if "-h" not in argv and "--noheader" not in argv:
        print("PARTITION")
    for p in parts:
        print(p)
    return 0


def scancel(argv: list[str]) -> int:
    for jid in (a for a in argv if not a.startswith("-")):
        jid = jid.split("_")[0]
        job = read_job(jid)
        if not job:
            continue
        if job["state"] not in TERMINAL:
            update_job(jid, state="CANCELLED", exit_code="0:15", ended=time.time())
            if job.get("pgid"):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(job["pgid"], signal.SIGTERM)
        append_log({"cmd": "scancel", "jobid": jid})
    return 0


def accounts(argv: list[str]) -> int:
    for a in os.environ.get("STANDIN_SLURM_ACCOUNTS", "standin").split(","):
        if a.strip():
            print(f"{a.strip():>10}")
    return 0


def srun(argv: list[str]) -> int:
    """Run the command of a job step in place (a job here is one process on one node)."""
    i = 0
    opts = []
    while i < len(argv):
        a = argv[i]
        if a == "--":
            i += 1
            break
        if not a.startswith("-"):
            break
        opts.append(a)
        if a in SRUN_VALUE_SHORT or (a.startswith("--") and "=" not in a and a in (
                "--ntasks", "--cpus-per-task", "--nodes", "--job-name", "--partition",
                "--account", "--time", "--gpus", "--jobid", "--mem", "--mem-per-cpu",
                "--cpu-bind", "--cpus-per-gpu", "--gres")):
            if i + 1 < len(argv):
                opts.append(argv[i + 1])
            i += 1
        i += 1
    cmd = argv[i:]
    append_log({"cmd": "srun", "jobid": os.environ.get("SLURM_JOB_ID"), "argv": argv,
                "options": opts})
    if not cmd:
        print("srun: fatal: No command given to execute.", file=sys.stderr)
        return 1
    os.execvp(cmd[0], cmd)
    return 127  # not reached


COMMANDS = {
    "sbatch": sbatch, "sacct": sacct, "squeue": squeue, "scontrol": scontrol, "sinfo": sinfo,
    "scancel": scancel, "sacctmgr": accounts, "sshare": accounts, "srun": srun,
}


def main(command: str, argv: list[str]) -> int:
    if command == "_run":
        return run_job(argv[0])
    return COMMANDS[command](argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
