"""The Kubernetes adapter: the only code that imports kubernetes_asyncio.

``client`` (typed async calls with timeouts and the shared retry), ``errors``
(one classification of every failure), ``scope`` (per-task attempt meters and
shared reads), ``objects`` and ``selectors`` (the API's JSON read into data).
"""
