"""Running student code: ``inside/`` runs in the child beside it, ``outside/`` drives and confines it, ``protocol`` is the wire between them."""
