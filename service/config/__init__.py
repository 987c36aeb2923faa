"""The one settings tree (``settings``), its process sections (``process``) and the
bridge from settings to the domain's wording (``wording``).
"""
