#!/usr/bin/env python3
"""Runs every command block of the documentation (docs/docs-tests.md has the convention).

Each markdown file (README.md, docs/*.md, examples/README.md, found anew on every run) gets a
scratch directory holding a copy of examples/, `build/release` pointing at the build tree and
the `clover` binary first on PATH. Its blocks run in file order, each as its own `bash` (set
-e -o pipefail) in that directory: variables a block exports are seen by the later blocks of
the file; processes a block leaves in the background are stopped when the file is done.

  ```sh / ```bash / ```shell   the block is a script; it must exit 0 (or its declared exit).
  ```console                    `$ ` lines are commands (continued by `> ` lines and after
                                a trailing `\\`), the lines after a command its expected output
                                (stdout and stderr), compared line by line; `…` (or `...`)
                                matches any text, a line of only `…` any number of lines.
  <!-- docs-test: ... -->       annotations on the lines right before a block:
                                  skip reason="why"   not run, counted and listed
                                  exit=N              the exit status the block must end with
                                  timeout=S           seconds (default 60)
                                anywhere in the file:
                                  port=8080           the literal port is replaced, in the
                                                      file's blocks and its copy of examples/,
                                                      by a free loopback port
  <!-- docs-test: setup         a hidden block (not rendered): the lines up to `-->` run as
  ...                           a ```sh block at that point of the file
  -->

An untagged block (```) that starts with a command (`$ `, `clover `, `curl `, `make `, …) is
an error: tag it `sh`, `console`, or `text` if it is not meant to run.

Exit status: 0 when every block passed, 1 otherwise. `--self-test` feeds the runner files
with failing blocks and checks that it fails on each.
"""

import argparse
import concurrent.futures
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

RUN_LANGS = {"sh", "bash", "shell", "console"}
COMMAND_START = re.compile(
    r"^(\$ |clover |curl |make |cmake |ctest |build/|\./|sudo |export |softhsm2-util |"
    r"printf |echo |cd |bench_|python3 )")
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([^\s`{]*)[^`]*$")
ANNOTATION = re.compile(r"^\s*<!--\s*docs-test:\s*(.*?)\s*-->\s*$")
DEFAULT_TIMEOUT = 60.0


class Block:
    def __init__(self, path, line, lang, text, opts):
        self.path, self.line, self.lang, self.text, self.opts = path, line, lang, text, opts

    def where(self):
        return f"{self.path}:{self.line}"


def parse_opts(s):
    """`skip reason="x y" exit=1` -> {"skip": "", "reason": "x y", "exit": "1"}."""
    opts = {}
    for tok in shlex.split(s):
        k, _, v = tok.partition("=")
        opts[k] = v
    return opts


def parse_markdown(path, text):
    """Returns (blocks, errors, ports) of one markdown file."""
    blocks, errors, ports = [], [], []
    lines = text.split("\n")
    pending = {}  # annotations waiting for the next block
    i = 0
    while i < len(lines):
        line = lines[i]
        m = ANNOTATION.match(line)
        if m:
            opts = parse_opts(m.group(1))
            if "port" in opts:
                ports.append(opts.pop("port"))
            pending.update(opts)
            i += 1
            continue
        if re.match(r"^\s*<!--\s*docs-test:\s*setup\s*$", line):
            j = i + 1
            while j < len(lines) and lines[j].strip() != "-->":
                j += 1
            if j == len(lines):
                errors.append(f"{path}:{i + 1}: docs-test setup comment without its closing -->")
                break
            blocks.append(Block(path, i + 1, "sh", "\n".join(lines[i + 1:j]), {"setup": ""}))
            i = j + 1
            continue
        m = FENCE.match(line)
        if not m:
            if line.strip():
                if pending and not line.lstrip().startswith("<!--"):
                    errors.append(f"{path}:{i + 1}: docs-test annotation not followed by a block")
                    pending = {}
            i += 1
            continue
        indent, fence, lang = m.group(1), m.group(2), m.group(3).lower()
        start = i
        body = []
        i += 1
        while i < len(lines):
            c = lines[i]
            if c.strip().startswith(fence[0] * len(fence)) and c.strip().strip(fence[0]) == "":
                break
            body.append(c[len(indent):] if c.startswith(indent) else c.lstrip())
            i += 1
        i += 1
        if lang in RUN_LANGS:
            blocks.append(Block(path, start + 1, lang, "\n".join(body), pending))
        elif lang == "":
            first = next((b for b in body if b.strip()), "")
            if COMMAND_START.match(first.strip()):
                errors.append(
                    f"{path}:{start + 1}: untagged block starting with a command: tag it "
                    "```sh or ```console (run by this test), or ```text")
        pending = {}
    return blocks, errors, ports


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PRELUDE = """set -e -o pipefail
[ -f "$DOCS_TEST_ENV" ] && . "$DOCS_TEST_ENV"
trap 'rc=$?; export -p | grep -Ev "^declare -x (PWD|OLDPWD|SHLVL|_|DOCS_TEST_[A-Z]*)=" > "$DOCS_TEST_ENV.new"; mv "$DOCS_TEST_ENV.new" "$DOCS_TEST_ENV"; exit $rc' EXIT
"""


def console_script(text):
    """A console block as (script, [(command, expected lines)])."""
    cmds = []
    cur = None
    lines = text.split("\n")
    k = 0
    while k < len(lines):
        ln = lines[k]
        if ln.startswith("$ "):
            cmd = ln[2:]
            # Continuation lines: after a trailing `\`, and every `> ` line (the shell's PS2).
            while k + 1 < len(lines) and (cmd.endswith("\\") or lines[k + 1].startswith("> ")):
                k += 1
                nxt = lines[k]
                cmd += "\n" + (nxt[2:] if nxt.startswith("> ") else nxt)
            cur = [cmd, []]
            cmds.append(cur)
        elif cur is not None:
            cur[1].append(ln)
        k += 1
    for c in cmds:  # trailing blank lines of the output are the block's layout
        while c[1] and not c[1][-1].strip():
            c[1].pop()
    script = []
    for n, (cmd, _) in enumerate(cmds):
        # set -e: the first command that fails ends the block with its status.
        script.append(f'{{\n{cmd}\n}} >"$DOCS_TEST_OUT.{n}" 2>&1')
    return "\n".join(script) + "\n", cmds


def output_matches(expected, actual):
    """Line-by-line match with `…`/`...` wildcards; a line of only `…` spans lines."""
    def line_re(e):
        parts = re.split(r"…|\.\.\.", e.rstrip())
        return re.compile("^" + ".*".join(re.escape(p) for p in parts) + "$")

    pats = [None if e.strip() in ("…", "...") else line_re(e) for e in expected]
    act = [a.rstrip() for a in actual]

    def match(pi, ai):
        if pi == len(pats):
            return ai == len(act)
        if pats[pi] is None:
            return any(match(pi + 1, j) for j in range(ai, len(act) + 1))
        return ai < len(act) and pats[pi].match(act[ai]) is not None and match(pi + 1, ai + 1)

    return match(0, 0)


class FileRun:
    def __init__(self, args, path, text, scratch_root, port_lock, used_ports):
        self.args, self.path, self.text = args, path, text
        self.dir = os.path.join(scratch_root, re.sub(r"[^A-Za-z0-9]+", "_", path))
        self.port_lock, self.used_ports = port_lock, used_ports
        self.pgids = []
        self.ran, self.skipped, self.failures = 0, [], []

    def pick_port(self):
        with self.port_lock:
            while True:
                p = free_port()
                if p not in self.used_ports:
                    self.used_ports.add(p)
                    return p

    def setup(self, ports):
        os.makedirs(self.dir)
        src = self.args.source_dir
        shutil.copytree(os.path.join(src, "examples"), os.path.join(self.dir, "examples"))
        os.makedirs(os.path.join(self.dir, "build"))
        os.symlink(os.path.abspath(self.args.build_dir), os.path.join(self.dir, "build", "release"))
        self.port_map = {p: str(self.pick_port()) for p in ports}
        if self.port_map:
            for root, _, files in os.walk(os.path.join(self.dir, "examples")):
                for f in files:
                    fp = os.path.join(root, f)
                    with open(fp, encoding="utf-8") as fh:
                        s = fh.read()
                    t = self.map_ports(s)
                    if t != s:
                        with open(fp, "w", encoding="utf-8") as fh:
                            fh.write(t)
        self.env = dict(os.environ)
        self.env["PATH"] = os.path.dirname(os.path.abspath(self.args.clover)) + ":" + self.env["PATH"]
        self.env["HOME"] = self.dir
        self.env["DOCS_TEST_ENV"] = os.path.join(self.dir, ".docs-test-env")
        self.env["CLOVER_SOURCE_DIR"] = os.path.abspath(src)

    def map_ports(self, s):
        for old, new in self.port_map.items():
            s = re.sub(rf"(?<![0-9]){re.escape(old)}(?![0-9])", new, s)
        return s

    def run_block(self, b, n):
        text = self.map_ports(b.text)
        out_base = os.path.join(self.dir, f".block{n}")
        cmds = None
        if b.lang == "console":
            body, cmds = console_script(text)
            if not cmds:
                return f"console block without a `$ ` command"
        else:
            body = text + "\n"
        script = os.path.join(self.dir, f".block{n}.sh")
        with open(script, "w", encoding="utf-8") as fh:
            fh.write(PRELUDE + body)
        env = dict(self.env, DOCS_TEST_OUT=out_base + ".out")
        timeout = float(b.opts.get("timeout") or DEFAULT_TIMEOUT)
        want = int(b.opts.get("exit") or 0)
        with open(out_base + ".log", "wb") as log:
            p = subprocess.Popen(["bash", script], cwd=self.dir, env=env, stdin=subprocess.DEVNULL,
                                 stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            self.pgids.append(p.pid)
            try:
                rc = p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill_group(p.pid)
                p.wait()
                return f"timed out after {timeout:g} s\n" + self.tail(out_base + ".log")
        if rc != want:
            detail = self.tail(out_base + ".log")
            if cmds:
                for k in range(len(cmds)):
                    if os.path.exists(f"{out_base}.out.{k}"):
                        detail += f"$ {cmds[k][0]}\n" + self.tail(f"{out_base}.out.{k}")
            return f"exit {rc}, expected {want}\n{detail}"
        for k, (cmd, expected) in enumerate(cmds or []):
            if not expected:
                continue
            with open(f"{out_base}.out.{k}", encoding="utf-8", errors="replace") as fh:
                actual = fh.read().rstrip("\n").split("\n")
            expected = [self.map_ports(e) for e in expected]
            if not output_matches(expected, actual):
                return ("output differs for `$ " + cmd + "`\n--- documented\n" + "\n".join(expected)
                        + "\n--- actual\n" + "\n".join(actual))
        return None

    @staticmethod
    def tail(f, n=25):
        try:
            with open(f, encoding="utf-8", errors="replace") as fh:
                return "".join(fh.readlines()[-n:])
        except OSError:
            return ""

    @staticmethod
    def kill_group(pgid, sig=signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            pass

    def stop_background(self):
        for g in self.pgids:
            self.kill_group(g, signal.SIGTERM)
        deadline = time.monotonic() + 5
        for g in self.pgids:
            while time.monotonic() < deadline:
                try:
                    os.killpg(g, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)
            self.kill_group(g)

    def run(self, blocks, ports):
        t0 = time.monotonic()
        try:
            self.setup(ports)
            for n, b in enumerate(blocks):
                if "skip" in b.opts:
                    self.skipped.append((b.where(), b.opts.get("reason", "")))
                    continue
                err = self.run_block(b, n)
                self.ran += 1
                if err:
                    self.failures.append(f"{b.where()}: {err}")
                    break  # later blocks of the file build on this one
        finally:
            self.stop_background()
        self.seconds = time.monotonic() - t0


def default_files(src):
    files = ["README.md"]
    files += sorted(os.path.join("docs", f) for f in os.listdir(os.path.join(src, "docs"))
                    if f.endswith(".md"))
    files.append(os.path.join("examples", "README.md"))
    return [f for f in files if os.path.exists(os.path.join(src, f))]


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clover", required=True, help="the clover binary (its directory joins PATH)")
    ap.add_argument("--source-dir", required=True)
    ap.add_argument("--build-dir", required=True, help="linked as build/release in each scratch dir")
    ap.add_argument("--jobs", type=int, default=2, help="files run in parallel")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directories")
    ap.add_argument("--self-test", action="store_true")
    ap.add_argument("files", nargs="*", help="markdown files (default: README.md docs/*.md "
                    "examples/README.md), relative to --source-dir or absolute")
    args = ap.parse_args(argv)
    if args.self_test:
        return self_test(args)
    files = args.files or default_files(args.source_dir)
    scratch_root = tempfile.mkdtemp(prefix="clover-docs-")
    port_lock, used_ports = threading.Lock(), set()
    runs, errors = [], []
    try:
        for f in files:
            full = f if os.path.isabs(f) else os.path.join(args.source_dir, f)
            with open(full, encoding="utf-8") as fh:
                text = fh.read()
            blocks, errs, ports = parse_markdown(f, text)
            errors += errs
            runs.append((FileRun(args, f, text, scratch_root, port_lock, used_ports), blocks, ports))
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as ex:
            for fut in [ex.submit(r.run, b, p) for r, b, p in runs]:
                fut.result()
    finally:
        if not args.keep:
            shutil.rmtree(scratch_root, ignore_errors=True)
    total_ran = sum(r.ran for r, _, _ in runs)
    skipped = [s for r, _, _ in runs for s in r.skipped]
    for r, blocks, _ in runs:
        if blocks:
            print(f"{r.path}: {r.ran} run, {len(r.skipped)} skipped, "
                  f"{len(r.failures)} failed ({r.seconds:.1f} s)")
    print(f"{len(skipped)} blocks skipped:")
    for where, reason in skipped:
        print(f"  {where}: {reason or '(no reason given)'}")
        if not reason:
            errors.append(f"{where}: skipped without reason=\"…\"")
    failures = errors + [f for r, _, _ in runs for f in r.failures]
    for f in failures:
        print("FAIL " + f)
    print(f"{total_ran} blocks run, {len(skipped)} skipped, {len(failures)} failed")
    if args.keep:
        print(f"scratch directories kept in {scratch_root}")
    return 1 if failures else 0


SELF_TEST_CASES = [
    # (name, markdown, expected exit status, text the output must contain)
    ("passing", "```sh\nexport GREETING=hi\n```\n\n```console\n$ echo \"$GREETING there\"\n"
     "hi …\n$ printf 'a\\nb\\nc\\n'\na\n…\n```\n"
     "<!-- docs-test: exit=3 -->\n```sh\nexit 3\n```\n", 0, "3 blocks run, 0 skipped, 0 failed"),
    ("failing block", "```sh\ntrue\nfalse\necho never\n```\n", 1, "exit 1, expected 0"),
    ("failing pipe", "```bash\nfalse | cat\n```\n", 1, "exit 1, expected 0"),
    ("wrong output", "```console\n$ echo 'policy: ok, 17 rules'\npolicy: ok, 18 rules\n```\n", 1,
     "output differs"),
    ("extra output", "```console\n$ printf 'a\\nb\\n'\na\n```\n", 1, "output differs"),
    ("wrong exit", "<!-- docs-test: exit=2 -->\n```sh\nexit 1\n```\n", 1, "exit 1, expected 2"),
    ("untagged command", "```\nclover log inspect data/log\n```\n", 1, "untagged block"),
    ("skip without reason", "<!-- docs-test: skip -->\n```sh\nfalse\n```\n", 1,
     "skipped without reason"),
    ("skip", "<!-- docs-test: skip reason=\"needs a real HSM\" -->\n```sh\nfalse\n```\n", 0,
     "needs a real HSM"),
    ("timeout", "<!-- docs-test: timeout=1 -->\n```sh\nsleep 30\n```\n", 1, "timed out"),
    ("setup and port", "<!-- docs-test: port=8080 -->\n<!-- docs-test: setup\nexport P=8080\n-->\n"
     "```sh\ntest \"$P\" -ne $((8000 + 80))\n"
     "test \"$(sed -n 's/.*://p' examples/nodes/port.txt)\" = \"$P\"\n```\n", 0, "2 blocks run"),
    ("continuation and info string", "```console title=\"x\"\n$ printf '%s\\n' one \\\n  two\none\ntwo\n"
     "$ echo 'a\n> b'\na\nb\n```\n", 0, "1 blocks run, 0 skipped, 0 failed"),
    ("continuation output differs", "```console\n$ echo 'a\n> b'\na\nc\n```\n", 1,
     "output differs"),
    ("annotation without a block", "<!-- docs-test: exit=1 -->\nsome text\n", 1,
     "annotation not followed by a block"),
    ("background stopped", "```sh\nsleep 300 &\necho $! > \"$CLOVER_SOURCE_DIR/../bg.pid\"\n```\n", 0,
     "1 blocks run"),
]


def self_test(args):
    ok = True
    with tempfile.TemporaryDirectory(prefix="clover-docs-self-") as d:
        src = os.path.join(d, "src")
        os.makedirs(os.path.join(src, "docs"))
        os.makedirs(os.path.join(src, "examples", "nodes"))
        with open(os.path.join(src, "examples", "nodes", "port.txt"), "w") as fh:
            fh.write("listen: 127.0.0.1:8080\n")
        for n, (name, md, want_rc, want_text) in enumerate(SELF_TEST_CASES):
            f = os.path.join(src, "docs", f"case{n}.md")
            with open(f, "w") as fh:
                fh.write(md)
            p = subprocess.run([sys.executable, os.path.abspath(__file__), "--clover", args.clover,
                                "--source-dir", src, "--build-dir", args.build_dir, f],
                               capture_output=True, text=True, timeout=60)
            good = p.returncode == want_rc and want_text in p.stdout
            print(f"{'ok  ' if good else 'FAIL'} {name}: exit {p.returncode}")
            if not good:
                ok = False
                print(p.stdout + p.stderr)
        # What the "background stopped" case left running is gone once the runner returns.
        with open(os.path.join(d, "bg.pid")) as fh:
            pid = int(fh.read())
        try:
            os.kill(pid, 0)
            print(f"FAIL background process {pid} outlived the runner")
            os.kill(pid, signal.SIGKILL)
            ok = False
        except ProcessLookupError:
            print("ok   background process stopped")
    if not ok:
        return 1
    print("self-test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
