"""The import graph of dashboard/ reads top-down: no cycles, few hidden imports, domain below web.

The graph is read with `ast`, so it counts what a grep would miss: imports inside
functions, and the package `__init__.py` files Python runs before any module of
their package (importing dashboard.sync.plan runs dashboard/__init__.py and
dashboard/sync/__init__.py first).
"""
import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "dashboard"

# The web layer: the app factory and the modules that serve requests or commands
# (views, forms, page helpers, error pages, CLI, scheduler, demo wiring). Every other
# module is domain or service code and imports none of these.
WEB_LAYER = [
    r"dashboard\.app",
    r"dashboard\.cli",
    r"dashboard\.scheduler",
    r"dashboard\.demo",
    r"dashboard\.web",
    r"dashboard\.errors",
    r"dashboard\.unavailable",
    r"dashboard\.docs",
    r"dashboard\.health",
    r"dashboard\.api\.seed",
    r"dashboard\.(\w+\.)*\w*views",
    r"dashboard\.(\w+\.)*forms",
]
MAX_FUNCTION_LOCAL_IMPORTS = 15


def module_files():
    """{module name: path} of every module and package of dashboard/ (migrations included)."""
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def ancestors(name):
    parts = name.split(".")
    return [".".join(parts[:index]) for index in range(1, len(parts))]


def imported_modules(node, module, is_package, modules):
    """The dotted names an import statement runs (relative imports resolved; `from p import sub` is sub)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = module if is_package else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{base}" if base else package
    return [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]


def targets(node, module, is_package, modules):
    """Our modules an import statement runs: each module named and its parent packages not yet running."""
    found = set()
    for name in imported_modules(node, module, is_package, modules):
        if name.split(".")[0] != "dashboard":
            continue
        while name and name not in modules:   # `from dashboard.x import function`: the module dashboard.x
            name = name.rpartition(".")[0]
        if not name:
            continue
        found.add(name)
        found.update(parent for parent in ancestors(name) if parent in modules and parent not in ancestors(module))
    found.discard(module)
    return found


def imports_in(tree, in_function=False):
    """Every import statement under tree, with whether it sits inside a function."""
    for child in ast.iter_child_nodes(tree):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child, in_function
        inside = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        yield from imports_in(child, inside)


def import_graph():
    """(edges {module: set of modules it imports}, [(module, line) of each import inside a function])."""
    modules = module_files()
    edges = {module: set() for module in modules}
    function_local = []
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node, in_function in imports_in(tree):
            found = targets(node, module, path.name == "__init__.py", modules)
            edges[module] |= found
            if found and in_function:
                function_local.append((module, node.lineno))
    return edges, function_local


def cycles(edges):
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []

    def connect(vertex):
        index[vertex] = low[vertex] = len(index)
        stack.append(vertex)
        on_stack.add(vertex)
        for other in edges[vertex]:
            if other not in index:
                connect(other)
                low[vertex] = min(low[vertex], low[other])
            elif other in on_stack:
                low[vertex] = min(low[vertex], index[other])
        if low[vertex] == index[vertex]:
            component = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.append(other)
                if other == vertex:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        for vertex in edges:
            if vertex not in index:
                connect(vertex)
    finally:
        sys.setrecursionlimit(limit)
    return found


def in_web_layer(module):
    return any(re.fullmatch(pattern, module) for pattern in WEB_LAYER)


def test_the_graph_sees_imports_inside_functions_and_parent_packages():
    edges, function_local = import_graph()
    assert "dashboard.app" in edges["dashboard"]                # create_app's import, inside the function
    assert any(module == "dashboard" for module, _ in function_local)
    assert "dashboard.sync" in edges["dashboard.jobs.views"]    # importing sync.history runs sync/__init__.py
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles():
    assert cycles(import_graph()[0]) == []


def test_few_imports_hidden_inside_functions():
    _, function_local = import_graph()
    assert len(function_local) <= MAX_FUNCTION_LOCAL_IMPORTS, sorted(function_local)


def test_domain_and_services_import_nothing_of_the_web_layer():
    edges, _ = import_graph()
    assert any(in_web_layer(module) for module in edges)   # the patterns still name real modules
    upward = {module: sorted(target for target in targets if in_web_layer(target))
              for module, targets in edges.items() if not in_web_layer(module) and module != "dashboard"}
    assert {module: names for module, names in upward.items() if names} == {}


def test_importing_a_domain_module_loads_no_view():
    """What `import dashboard.sync.service` runs: no view, form, blueprint or app factory."""
    code = ("import sys, dashboard.sync.service, dashboard.webhooks.processor, dashboard.reports.report; "
            "print(' '.join(sorted(m for m in sys.modules if m.startswith('dashboard'))))")
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                            check=True).stdout.split()
    assert "dashboard.sync.service" in loaded
    assert [module for module in loaded if in_web_layer(module)] == []


# Library internals the app once reached into; each has a public API (csrf.exempt,
# app.before_request, a response's raw stream or get_data/set_data).
PRIVATE_INTERNALS = ("_exempt_views", "before_request_funcs", "._content", "_content_consumed")


def test_no_private_library_internals():
    uses = [f"{path.relative_to(ROOT)}: {name}" for path in module_files().values()
            for name in PRIVATE_INTERNALS if name in path.read_text(encoding="utf-8")]
    assert uses == []
