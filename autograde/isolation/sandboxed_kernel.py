"""``python -m autograde.isolation.sandboxed_kernel -f CONNECTION_FILE``: ipykernel in the sandbox its environment names.

What ``python -m ipykernel_launcher`` does, after :func:`autograde.isolation.sandbox.enter` has applied the
policy in ``COURSE_SANDBOX`` (before ipykernel, TensorFlow or anything else starts a thread).
:mod:`autograde.isolation.forked_kernels` runs kernels this way when it cannot fork them.
"""

import os
import sys

from autograde.isolation import sandbox

if __name__ == "__main__":
    sandbox.enter(sys.argv)
    if sys.path and sys.path[0] in ("", os.getcwd()):
        del sys.path[0]  # as ipykernel_launcher does; IPython puts "" back where it belongs
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()
