"""Home through AppTest: the first screen has the agent, the three sentences, the equation
and the links to every page."""

import pytest
from app_helpers import open_page, texts

from pages.shared import SHIPPED_POLICY
from pg.runs.checkpoint import load_run
from pg.viz.episode import run_episode


def test_home_shows_the_agent_the_idea_the_equation_and_the_map():
    at = open_page()
    assert at.title[0].value == "Policy Gradients, Visually"
    (latex,) = at.latex
    assert r"\nabla_\theta \log \pi_\theta(a_t \mid s_t)" in latex.value and "G_t - b(s_t)" in latex.value
    videos = [e for e in at.main if getattr(e, "type", None) == "video"]
    assert len(videos) == 1
    page_text = texts(at)
    run = load_run(SHIPPED_POLICY)
    # the caption's numbers are computed from the shipped run, not typed
    assert f"{run.policy.params.size} numbers" in page_text
    shown = run_episode(run.policy, seed=0)  # the episode in the video (pages.cached.shipped_replay)
    assert f"in the episode shown: it {shown.summary}, taking the likelier push" in page_text
    assert shown.summary == f"balanced all {run.config['max_episode_steps']} steps"
    assert f"{len(run.history['iteration'])} updates" in page_text
    links = {link.proto.page: link.proto.label for link in at.get("page_link")}
    assert links == {
        "theorem": "**The gradient theorem**",
        "train": "**Live training**",
        "heatmap": "**Policy heatmap**",
        "replay": "**Replay**",
        "credit": "**Credit assignment**",
        "compare": "**Compare estimators**",
    }


@pytest.mark.parametrize("shipped_file", [True, False])
def test_the_agent_on_home_is_made_once_per_server(monkeypatch, tmp_path, shipped_file):
    """Fifty visitors opening Home share one recorded episode and one encoded video: read from
    the file made ahead of time (nothing rendered), or, without it, made once."""
    import pages.cached
    from pages.cached import HOME_CLIP, _replay, shipped_replay

    calls = []
    monkeypatch.setattr("pg.viz.render.replay_video", lambda states, *a, **k: calls.append(len(states)) or b"mp4")
    if not shipped_file:
        monkeypatch.setattr(pages.cached, "HOME_CLIP", tmp_path / "home.mp4")  # no such file
    shipped_replay.clear()
    _replay.clear()
    try:
        first, second = open_page(), open_page()
        assert not first.exception and not second.exception
        assert calls == ([] if shipped_file else [500]), "read from the file, or encoded once for the 500 steps"
        assert shipped_replay() is shipped_replay()
        assert shipped_replay()[1] == (HOME_CLIP.read_bytes() if shipped_file else b"mp4")
    finally:
        shipped_replay.clear()
        _replay.clear()


def test_in_presenter_mode_the_speaker_notes_are_for_the_presenter_only():
    """Home in presenter mode lists the story's stops with the lines the room may read; what to
    say at each stop is inside "Speaker notes", an expander closed by default (issue 13)."""
    from pages.nav import PAGES

    at = open_page(query={"present": "1"})
    (notes,) = [e for e in at.expander if e.label == "Speaker notes"]
    assert not notes.proto.expanded, "closed until the presenter opens it"
    inside = "\n".join(m.value for m in notes.markdown)
    outside = "\n".join(m.value for m in at.main.markdown if m not in notes.markdown)
    for stop in PAGES:
        assert stop.notes in inside and stop.notes not in outside
        assert stop.blurb in outside  # the room reads the one-line blurb of every stop
