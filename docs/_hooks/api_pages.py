"""MkDocs hook: one API reference page per public module of ``divergences``, generated at build time.

Each page is ``::: module`` for mkdocstrings, which documents every name in the module's
``__all__`` from its docstring. Modules are listed below in reading order; one that does not exist
in this checkout (a layer not merged yet) is left out, so the site builds at every stage.
"""

from __future__ import annotations

import importlib
import sys
import types
from pathlib import Path

from mkdocs.structure.files import File

# (module, one-line description) in the order of the layers
MODULES = [
    ("divergences", "exact divergences between distributions on arrays (NumPy, PyTorch, Array API)"),
    ("divergences.core.divergence", "a divergence with its parameters: spec and Divergence"),
    ("divergences.core.record", "the registry: one record per divergence"),
    ("divergences.core.terms", "the term contract: pointwise terms and f-divergence generators"),
    ("divergences.core.mixture", "pointwise mixtures of divergences"),
    ("divergences.catalogue", "the built-in terms, one module per family"),
    ("divergences.gaussian", "closed forms between normal distributions"),
    ("divergences.projection", "information projections (M and I) onto exponential families"),
    ("divergences.samples", "estimators and tests from samples"),
    ("divergences.torch", "training losses (chunked, fused, top-k), RL and preference objectives"),
    ("divergences.llm", "analysis scores on language-model tensors"),
    ("divergences.hf", "transformers and TRL integration"),
    ("divergences.tabular", "dataset comparisons: profile, compare, monitor"),
    ("divergences.tabular.results", "typed results of a comparison"),
    ("divergences.tabular.options", "the options of a comparison"),
    ("divergences.binning", "reproducible quantile bins"),
]

SRC = Path(__file__).resolve().parents[2] / "src"


def existing_modules() -> list[tuple[str, str]]:
    """The modules of :data:`MODULES` present under ``src/`` (as a module file or a package)."""
    found = []
    for name, what in MODULES:
        base = SRC.joinpath(*name.split("."))
        if (base / "__init__.py").exists() or base.with_suffix(".py").exists():
            found.append((name, what))
    return found


def public_names(module: str) -> list[str]:
    """``__all__`` of ``module`` (imported: some modules compute it, or export names lazily)."""
    return list(getattr(importlib.import_module(module), "__all__", []))


def object_path(module: str, name: str, static) -> str:
    """Where mkdocstrings finds ``module.name``: the public path when static analysis sees it there as
    a function, class or attribute; else the module that defines it (a lazily exported name, or a
    function that shares its name with a submodule, like ``tabular.profile``)."""
    member = static.members.get(name) if static is not None else None
    if member is not None and member.kind.value != "module":
        return f"{module}.{name}"
    obj = getattr(importlib.import_module(module), name)
    home = getattr(obj, "__module__", None)
    if home and getattr(obj, "__qualname__", None):
        return f"{home}.{obj.__qualname__}"
    return f"{module}.{name}"


def statically_found(package, path: str) -> bool:
    """Whether griffe's static view of the package has ``path`` (what mkdocstrings can render)."""
    obj = package
    for part in path.split(".")[1:]:
        try:
            obj = obj.members.get(part) if obj is not None else None
        except Exception:  # noqa: BLE001 - an alias that cannot be followed
            return False
    return obj is not None


def manual_entry(module: str, public: str) -> str:
    """Markdown for a public name that static analysis cannot see (made at import time): its
    signature and docstring read from the imported object, under an anchor ``module.public``."""
    import inspect

    from doctest_blocks import fence_doctests, roles_as_code

    obj = getattr(importlib.import_module(module), public)
    try:
        signature = f"{public}{inspect.signature(obj)}"
    except (TypeError, ValueError):
        signature = public
    doc = roles_as_code(fence_doctests(inspect.getdoc(obj) or ""))
    return (f'<a id="{module}.{public}"></a>\n\n## `{public}`\n\n```python\n{signature}\n```\n\n{doc}\n')


def _identity(module: str, name: str):
    """What makes two public names the same object (functions, classes: the object; else the path)."""
    obj = getattr(importlib.import_module(module), name, None)
    if callable(obj) or isinstance(obj, type):
        return ("object", id(obj))
    return ("path", f"{module}.{name}")


def page_text(name: str, what: str, entries: list | None = None) -> str:
    """The page of ``name``: the module docstring, then one entry per public name (``entries``:
    (public name, path for mkdocstrings) or (public name, (page, path)) for a name documented on an
    earlier page, which gets a link); with no entries, the whole module."""
    head = f"# `{name}`\n\n{what[0].upper() + what[1:]}.\n\n"
    if entries is None:
        return head + f"::: {name}\n    options:\n      show_root_heading: false\n"
    body = [f"::: {name}\n    options:\n      show_root_heading: false\n      members: false\n"]
    links = [(p, where) for p, where in entries if isinstance(where, tuple)]
    for public, path in entries:
        if isinstance(path, tuple):
            continue
        if path.startswith("manual:"):
            body.append(manual_entry(name, public))
            continue
        body.append(f"::: {path}\n    options:\n      show_root_full_path: false\n      heading: {public}\n"
                    f"      heading_level: 2\n")
    if links:
        body.append("## Also exported here\n\n" + "\n".join(
            f"- `{public}`: see [`{path}`]({page[len('api/'):]}#{path})" for public, (page, path) in links) + "\n")
    return head + "\n".join(body)


def _static_package():
    import griffe

    try:
        return griffe.load("divergences", search_paths=[str(SRC)], resolve_aliases=False)
    except Exception:  # noqa: BLE001 - fall back to the defining modules
        return None


def on_files(files, config):
    mods = existing_modules()
    for folder in (str(SRC), str(Path(__file__).resolve().parent)):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    package = _static_package()
    seen: dict = {}
    index = ["# API reference", "", "Every public function and class, from its docstring.", "",
             "| module | what |", "|---|---|"]
    for name, what in mods:
        uri = f"api/{name}.md"
        static = package
        for part in name.split(".")[1:]:
            static = static.members.get(part) if static is not None else None
        entries = []
        for n in public_names(name):
            sub = getattr(importlib.import_module(name), n, None)
            if isinstance(sub, types.ModuleType) and sub.__name__ in {m for m, _ in mods}:
                entries.append((n, (f"api/{sub.__name__}.md", sub.__name__)))  # a module with its own page
                continue
            path = object_path(name, n, static)
            if package is not None and not statically_found(package, path):
                path = f"manual:{path}"  # generated at import time: rendered from the live object
            key = _identity(name, n)
            if key in seen:  # documented on an earlier page: link there (one primary URL per object)
                entries.append((n, seen[key]))
            else:
                seen[key] = (uri, path)
                entries.append((n, path))
        files.append(File.generated(config, uri, content=page_text(name, what, entries)))
        index.append(f"| [`{name}`]({name}.md) | {what} |")
    files.append(File.generated(config, "api/index.md", content="\n".join(index) + "\n"))
    return files


def on_nav(nav, config, files):
    """The API section titled "API reference", its pages in the order of :data:`MODULES` (layers)."""
    order = {f"api/{name}.md": i for i, (name, _) in enumerate(MODULES)}
    order["api/index.md"] = -1
    for item in nav.items:
        children = getattr(item, "children", None)
        if children and all(getattr(c, "file", None) is not None and c.file.src_uri.startswith("api/")
                            for c in children):
            item.title = "API reference"
            children.sort(key=lambda c: order.get(c.file.src_uri, len(order)))
    return nav
