"""mkdocs hook: show the Sphinx roles of h2ot's docstrings (:func:`name`, :class:`name`, ...) as plain code.

mkdocstrings renders ``:func:`name``` as the text ":func:" followed by ``name`` in code; this drops the
role prefix from the rendered page, leaving the code.
"""
import re

_ROLE = re.compile(r":(?:func|class|meth|data|mod|attr|exc|obj):(?=<code>)")


def on_page_content(html, **kwargs):
    return _ROLE.sub("", html)
