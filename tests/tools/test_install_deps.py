"""tools/install-deps.sh, run against fake package managers (nothing is installed): quiet when
everything is present; a failing step shows the failing command's own output and names the
package; Debian's PEP 668 refusal is retried with --break-system-packages and nothing else is."""
import os
import stat
import subprocess
import sys
import tempfile

from checks import check, finish

SCRIPT = os.path.join(os.environ["CUIQL_SOURCE_DIR"], "tools", "install-deps.sh")

# A python3 stand-in: `-c "import a, b"` fails when a module is in $FAKE_MISSING; `-m pip install
# ... PKG` logs its arguments and answers as $FAKE_PIP says (ok | fail | pep668).
FAKE_PYTHON = r'''#!/usr/bin/env bash
if [ "$1" = "-c" ]; then
  for m in $FAKE_MISSING; do [[ "$2" == "import $m" ]] && { echo "ModuleNotFoundError: No module named '$m'" >&2; exit 1; }; done
  exit 0
fi
if [ "$1 $2 $3" = "-m pip install" ]; then
  echo "pip $*" >> "$FAKE_LOG"
  case "$FAKE_PIP" in
    ok) echo "Successfully installed ${@: -1}"; exit 0 ;;
    fail) echo "Collecting ${@: -1}"; echo "ERROR: No matching distribution found for ${@: -1}" >&2; exit 1 ;;
    pep668) if [[ " $* " == *" --break-system-packages "* ]]; then exit 0; fi
            echo "error: externally-managed-environment" >&2; exit 1 ;;
  esac
fi
exit 3
'''
FAKE_PKG_CONFIG = r'''#!/usr/bin/env bash
[ "$1" = "--exists" ] && [[ " $FAKE_MISSING_PC " == *" $2 "* ]] && exit 1
exit 0
'''
FAKE_APT = r'''#!/usr/bin/env bash
echo "apt-get $*" >> "$FAKE_LOG"
if [ "$1" = "install" ]; then echo "Reading package lists..."; echo "E: Unable to locate package ${@: -1}" >&2; exit 100; fi
exit 0
'''


def run(tmp, **env):
    log = os.path.join(tmp, "log")
    open(log, "w").close()
    e = dict(os.environ, PATH=f"{tmp}/bin:{os.environ['PATH']}", PYTHON=f"{tmp}/bin/python3", FAKE_LOG=log,
             TMPDIR=tmp, FAKE_MISSING="", FAKE_MISSING_PC="", FAKE_PIP="ok")
    e.update(env)
    r = subprocess.run(["bash", SCRIPT], capture_output=True, text=True, env=e)
    with open(log) as f:
        return r, f.read()


def main():
    with tempfile.TemporaryDirectory() as tmp:
        os.makedirs(f"{tmp}/bin")
        for name, text in [("python3", FAKE_PYTHON), ("pkg-config", FAKE_PKG_CONFIG), ("apt-get", FAKE_APT),
                           ("sudo", '#!/usr/bin/env bash\nexec "$@"\n')]:
            path = f"{tmp}/bin/{name}"
            with open(path, "w") as f:
                f.write(text)
            os.chmod(path, os.stat(path).st_mode | stat.S_IEXEC)

        r, log = run(tmp)
        check(r.returncode == 0 and r.stdout == "" and r.stderr == "" and log == "",
              f"everything present: silent, nothing installed ({r.returncode}, {r.stdout!r}, {r.stderr!r}, {log!r})")

        r, log = run(tmp, FAKE_MISSING="gymnasium", FAKE_PIP="fail")
        check(r.returncode != 0, "a failed pip install stops the script")
        check("install-deps: pip install gymnasium" in r.stdout, f"the step is announced: {r.stdout!r}")
        check("FAILED installing gymnasium" in r.stderr, f"the package that failed is named: {r.stderr!r}")
        check("ERROR: No matching distribution found for gymnasium" in r.stderr,
              f"pip's own error is shown: {r.stderr!r}")
        check(log.count("-m pip install") == 1 and "--break-system-packages" not in log,
              f"no retry with --break-system-packages for an ordinary failure: {log!r}")

        r, log = run(tmp, FAKE_MISSING="h5py", FAKE_PIP="pep668")
        check(r.returncode == 0 and "--break-system-packages" in log and log.count("-m pip install") == 2,
              f"PEP 668's refusal is retried with --break-system-packages: {r.stderr!r} {log!r}")

        r, log = run(tmp, FAKE_MISSING_PC="yaml-0.1")
        check(r.returncode != 0 and "apt-get update" in log and "install -y --no-install-recommends libyaml-dev" in log,
              f"a missing pkg-config module installs its package: {log!r}")
        check("FAILED installing libyaml-dev" in r.stderr and "E: Unable to locate package libyaml-dev" in r.stderr,
              f"apt-get's own error and the package are shown: {r.stderr!r}")
    return finish("install_deps")


if __name__ == "__main__":
    sys.exit(main())
