"""The one HTML sanitizer: same policy for nh3 and bleach, safe against known tricks."""

import os
import subprocess
import sys

import pytest

from mailboxes.mime.sanitize import (
    ENGINES,
    clean_css,
    configured_engine,
    html_to_text,
    sanitize_html,
    snippet,
    url_allowed,
)

from .test_corpus import assert_safe

# Classic vectors (OWASP's XSS filter evasion list and html5sec.org), plus email-specific ones.
HOSTILE = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    '<img src=x onerror="alert(1)">',
    "<img src=x OnErRoR=alert(1)>",
    '<img src="javascript:alert(1)">',
    '<a href="javascript:alert(1)">x</a>',
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<a href="jav&#x09;ascript:alert(1)">x</a>',
    '<a href="jav&#x0A;ascript:alert(1)">x</a>',
    '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">x</a>',
    '<a href="&#x6A;avascript&colon;alert(1)">x</a>',
    '<a href=" javascript:alert(1)">x</a>',
    '<a href="vbscript:msgbox(1)">x</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    '<img src="data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=">',
    "<iframe src=https://evil.example></iframe>",
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    '<object data="https://evil.example/x.swf"></object>',
    '<embed src="https://evil.example/x.swf">',
    '<form action="https://evil.example"><input type=password name=p></form>',
    '<button formaction="javascript:alert(1)">x</button>',
    '<base href="https://evil.example/">',
    '<meta http-equiv="refresh" content="0;url=https://evil.example">',
    '<link rel=stylesheet href="https://evil.example/x.css">',
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    '<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<style>body{background:url(https://evil.example/t.gif)}</style>",
    '<div style="background:url(https://evil.example/t.gif)">x</div>',
    '<div style="width: expression(alert(1))">x</div>',
    '<div style="behavior: url(x.htc)">x</div>',
    '<div style="color: red; -moz-binding: url(x.xml#x)">x</div>',
    '<div style="background-image: u\\72l(https://evil.example)">x</div>',
    "<!--[if gte mso 9]><script>alert(1)</script><![endif]-->",
    '<p title="</p><script>alert(1)</script>">x</p>',
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
    '<a href="https://ok.example" target="_self" rel="opener">x</a>',
    "<body onload=alert(1)>x</body>",
    '<table background="javascript:alert(1)"><tr><td>x</td></tr></table>',
    "<marquee onstart=alert(1)>x</marquee>",
    "<details open ontoggle=alert(1)>",
    "<template><script>alert(1)</script></template>",
    '<isindex action="javascript:alert(1)" type=image>',
]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("vector", HOSTILE)
def test_hostile_vector_is_neutralised(engine, vector):
    assert_safe(sanitize_html(vector, engine=engine))


@pytest.mark.parametrize("engine", ENGINES)
def test_script_and_style_contents_are_dropped_not_shown_as_text(engine):
    cleaned = sanitize_html(
        "<style>.a{color:red}</style><p>Hi<script>steal()</script></p><title>T</title>",
        engine=engine,
    )
    assert "steal" not in cleaned and "color:red" not in cleaned and "T</" not in cleaned
    assert "<p>Hi</p>" in cleaned


@pytest.mark.parametrize("engine", ENGINES)
def test_links_open_in_a_new_tab_without_opener_or_referrer(engine):
    cleaned = sanitize_html('<a href="https://example.com/x?a=1&b=2">x</a>', engine=engine)
    assert 'rel="noopener noreferrer"' in cleaned
    assert 'target="_blank"' in cleaned
    assert 'href="https://example.com/x?a=1&amp;b=2"' in cleaned


@pytest.mark.parametrize("engine", ENGINES)
def test_layout_and_safe_styles_survive(engine):
    cleaned = sanitize_html(
        '<table width="600" cellpadding="0" bgcolor="#ffffff"><tr><td align="center" '
        'style="color: #333; font-family: Arial, sans-serif; position: fixed; '
        'background: url(https://t.example/p.gif)">Hello</td></tr></table>',
        engine=engine,
    )
    assert 'width="600"' in cleaned and 'bgcolor="#ffffff"' in cleaned
    assert "color:#333" in cleaned and "font-family:Arial, sans-serif" in cleaned
    assert "position" not in cleaned and "url(" not in cleaned


@pytest.mark.parametrize("engine", ENGINES)
def test_inline_images_are_kept_and_relative_urls_dropped(engine):
    cleaned = sanitize_html(
        '<img src="cid:logo@x"><img src="data:image/png;base64,iVBORw0KGgo=">'
        '<img src="/admin/delete"><a href="mailto:a@example.com">m</a><a href="/x">r</a>',
        engine=engine,
    )
    assert 'src="cid:logo@x"' in cleaned
    assert 'src="data:image/png;base64,iVBORw0KGgo="' in cleaned
    assert "/admin/delete" not in cleaned and 'href="/x"' not in cleaned
    assert 'href="mailto:a@example.com"' in cleaned


def test_both_engines_agree_on_the_policy():
    sample = (
        '<div class="c" style="color:red;position:absolute"><p align="left">Hi '
        '<a href="https://x.example">l</a><img src="cid:1" alt="a" onerror="x"></p></div>'
    )
    nh3_out = sanitize_html(sample, engine="nh3")
    bleach_out = sanitize_html(sample, engine="bleach")
    for fragment in ('class="c"', "color:red", 'align="left"', 'src="cid:1"', 'alt="a"'):
        assert fragment in nh3_out and fragment in bleach_out
    for fragment in ("position", "onerror"):
        assert fragment not in nh3_out and fragment not in bleach_out


def test_engine_comes_from_the_setting(settings):
    settings.CRM_HTML_SANITIZER = "bleach"
    assert configured_engine() == "bleach"
    del settings.CRM_HTML_SANITIZER
    assert configured_engine() == "nh3"


def test_unknown_engine_is_an_error_not_a_pass_through():
    with pytest.raises(ValueError, match="CRM_HTML_SANITIZER"):
        sanitize_html("<script>x</script>", engine="none")


def test_clean_css_keeps_only_safe_declarations():
    assert clean_css("color: red; position: fixed; width: calc(100% - 2px)") == (
        "color:red;width:calc(100% - 2px)"
    )
    assert clean_css("background: url(x)") == ""
    assert clean_css("color: rgb(1,2,3); font: 12px/1.5 'Segoe UI'") == (
        "color:rgb(1,2,3);font:12px/1.5 'Segoe UI'"
    )
    assert clean_css("color: red\\;x") == ""
    assert clean_css("width: var(--x)") == ""


def test_url_rule():
    assert url_allowed("a", "href", "https://example.com")
    assert url_allowed("a", "href", "mailto:x@example.com")
    assert not url_allowed("a", "href", "data:image/png;base64,AAAA")
    assert url_allowed("img", "src", "data:image/gif;base64,R0lGOD==")
    assert not url_allowed("img", "src", "data:image/svg+xml;base64,PHN2Zz4=")
    assert not url_allowed("a", "href", "//evil.example")
    assert not url_allowed("a", "href", "java\tscript:alert(1)")


def test_html_to_text_for_previews():
    text = html_to_text(
        "<html><head><title>T</title><style>p{}</style></head><body><p>Hello&nbsp;<b>Ann</b>"
        "</p><!-- hidden --><div>Line&amp;two</div><script>x()</script></body></html>"
    )
    assert text == "Hello Ann\n\nLine&two"
    assert html_to_text("<p>unclosed <head> stays</p>") == "unclosed stays"


def test_html_to_text_is_linear_on_angle_bracket_runs():
    html_to_text("<" * 300_000 + "<!--" * 50_000 + "<script" * 50_000)


def test_snippet():
    assert snippet("  short\n text ") == "short text"
    long = "word " * 100
    cut = snippet(long, length=42)
    assert cut.endswith("…") and len(cut) <= 43 and not cut[:-1].endswith(" ")


def test_module_works_without_django_configured():
    code = (
        "from mailboxes.mime.sanitize import configured_engine, sanitize_html;"
        "print(configured_engine(), sanitize_html('<b onclick=x>ok</b>'))"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert result.stdout.strip() == "nh3 <b>ok</b>"
