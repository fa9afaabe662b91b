"""One client per deployment target kind, behind one interface (operations.targets.base).

``client_for(target)`` returns the client for a target's kind; each kind's module registers its
class with ``@register_client``. Importing this package imports every kind.
"""

# Each kind registers its client on import.
from operations.targets import argocd, github, gitlab, webhook  # noqa: F401
from operations.targets.base import (  # noqa: F401  (the package's interface)
    DispatchRequest,
    DispatchResult,
    PermanentTargetError,
    StatusReport,
    TargetClient,
    TransientTargetError,
    client_for,
    register_client,
)
