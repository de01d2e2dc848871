"""Kernels that the book starts talk to it over encrypted sockets.

A Jupyter kernel and the process that drives it (the book's build, nbval, the notebook
executor) exchange code and outputs over ZeroMQ sockets. jupyter_client can give each
kernel a CurveZMQ key pair when it starts it, but only when its kernel manager asks for
that (``transport_encryption``, ``"disabled"`` by default), and the builders and test
runners create their kernel managers without any configuration. ipykernel then starts
unencrypted over TCP and says so on stderr at every start.

The provisioner below is jupyter_client's local provisioner with the encryption policy
``"auto"``: a kernel whose kernelspec declares CurveZMQ support (ipykernel's does) gets a
key pair, any other kernel starts as before. It is registered under :data:`PROVISIONER`
(an entry point of this package) and chosen for every kernel whose kernelspec names no
provisioner of its own by :func:`use_encrypted_kernels`.
"""

from __future__ import annotations

import os
from importlib.metadata import entry_points
from typing import Any

from jupyter_client.provisioning.local_provisioner import LocalProvisioner

#: The entry-point name of :class:`EncryptedLocalProvisioner`.
PROVISIONER = "cnnbook-encrypted"
#: The variable jupyter_client reads for the provisioner of a kernelspec that names none.
DEFAULT_PROVISIONER_VARIABLE = "JUPYTER_DEFAULT_PROVISIONER_NAME"
#: The entry-point group in which jupyter_client looks provisioners up.
GROUP = "jupyter_client.kernel_provisioners"
#: jupyter_client's policy: provision CurveZMQ keys when the kernelspec declares support.
POLICY = "auto"


class EncryptedLocalProvisioner(LocalProvisioner):
    """The local provisioner, asking for CurveZMQ keys unless told otherwise."""

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        """Prepare the launch as the local provisioner does, with encryption ``"auto"``."""
        kwargs.setdefault("transport_encryption", POLICY)
        launch: dict[str, Any] = await super().pre_launch(**kwargs)
        return launch


def provisioner_is_registered() -> bool:
    """Whether the installed package declares the entry point :data:`PROVISIONER`.

    An install of this package made before the entry point existed does not: then
    jupyter_client could not find the provisioner, and no kernel would start.
    """
    return any(ep.name == PROVISIONER for ep in entry_points(group=GROUP))


def use_encrypted_kernels() -> bool:
    """Make :class:`EncryptedLocalProvisioner` the default for kernels started from now on.

    Sets the variable in this process (and so in its children) when the provisioner is
    registered; a value already set, for example by the user, is kept. Returns whether
    the variable now names this provisioner.
    """
    if provisioner_is_registered():
        os.environ.setdefault(DEFAULT_PROVISIONER_VARIABLE, PROVISIONER)
    return os.environ.get(DEFAULT_PROVISIONER_VARIABLE) == PROVISIONER
