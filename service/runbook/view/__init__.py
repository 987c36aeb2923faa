"""The live view of the namespace (watches, logs read once, gaps) and ``Facts`` from it."""

from service.runbook.view.facts import ViewState, facts_of
from service.runbook.view.namespace import NamespaceView

__all__ = ["NamespaceView", "ViewState", "facts_of"]
