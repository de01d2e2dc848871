"""The kernels that execute the notebooks during the build get CurveZMQ keys.

See :mod:`cnnbook.kernel`: without this, ipykernel starts unencrypted over TCP and
prints a warning into the build's log at every start.
"""

from __future__ import annotations

from sphinx.application import Sphinx

from cnnbook.kernel import use_encrypted_kernels


def setup(app: Sphinx) -> dict[str, object]:
    use_encrypted_kernels()
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
