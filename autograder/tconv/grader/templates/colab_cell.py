# On Google Colab only: installs the course package `tconv`, which Colab lacks; elsewhere, nothing.
# (From {repo} at {ref}; the same cell in every chapter, written by `make publish`.)
import importlib.util, os, sys
if importlib.util.find_spec("tconv") is None and (
        "google.colab" in sys.modules or any(key.startswith("COLAB_") for key in os.environ)):
    import subprocess
    _pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                           "tconv @ git+https://github.com/{repo}@{ref}"], capture_output=True, text=True)
    if _pip.returncode:
        raise RuntimeError("could not install the course package from https://github.com/{repo} "
                           "(version {ref}); pip said:\n" + _pip.stderr[-2000:])
    importlib.invalidate_caches()
    print("installed the course package tconv from https://github.com/{repo} ({ref})")
