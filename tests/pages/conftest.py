"""Page tests (AppTest): Replay's clips made ahead of time stay off unless a test asks for them
(``@pytest.mark.clips_ahead``): made on a background thread, they would be rendered at moments no
test controls, with whichever stand-in encoder a test has patched in."""

import pytest


@pytest.fixture(autouse=True)
def _no_clips_ahead(request, monkeypatch):
    if request.node.get_closest_marker("clips_ahead") is None:
        import pages.cached

        monkeypatch.setattr(pages.cached, "CLIPS_AHEAD", False)
