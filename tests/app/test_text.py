"""pg.app.text: outside text shown as Markdown that renders nothing."""

from pg.app.text import file_name, plain


def test_a_file_name_becomes_one_code_span_whatever_its_backticks():
    assert file_name("policy.npz") == "`policy.npz`"
    assert file_name("a``b") == "```a``b```"
    assert file_name("`x`") == "`` `x` ``"
    assert file_name("two\nlines") == "`two lines`"


def test_plain_escapes_markdown_and_breaks_bare_addresses():
    shown = plain("[x](http://e.com) ![i](www.e.com/i.png) *b* a@b")
    assert "\\[x\\]\\(http\u200b\\:" in shown and "\\!\\[i\\]" in shown and "\\*b\\*" in shown
    assert "www\u200b" in shown and "@\u200b" in shown
    assert plain("ok") == "ok"
