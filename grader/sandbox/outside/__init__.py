"""Judge-side code: starts the child, confines it (limits and OS layers) and talks to it; never imports student code."""
