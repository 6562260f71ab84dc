"""The package's import graph, read from the source with `ast` (imports inside functions count)."""

import ast
import os

import tfinpaint

PACKAGE_DIR = os.path.dirname(os.path.abspath(tfinpaint.__file__))


def _module_names() -> dict[str, str]:
    """Dotted module name -> source file, for every module of the package."""
    modules = {}
    for folder, _, files in os.walk(PACKAGE_DIR):
        for file in files:
            if not file.endswith(".py"):
                continue
            relative = os.path.relpath(os.path.join(folder, file), os.path.dirname(PACKAGE_DIR))
            name = relative[: -len(".py")].replace(os.sep, ".")
            modules[name.removesuffix(".__init__")] = os.path.join(folder, file)
    return modules


def _imported(node: ast.AST, module: str, is_package: bool, modules) -> list[str]:
    """The package modules one import statement names: `from a.b import c` is `a.b.c` when that
    is a module, else `a.b` (importing a submodule runs its package's `__init__` first, but that
    is not a circle unless the `__init__` is named too)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name in modules]
    if node.level:  # relative: from the importing module's package
        parts = module.split(".") if is_package else module.split(".")[:-1]
        base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
    else:
        base = node.module or ""
    found = [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in modules]
    if len(found) < len(node.names) and base in modules:
        found.append(base)
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports anywhere in its source."""
    modules = _module_names()
    graph = {}
    for name, path in modules.items():
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
        is_package = path.endswith("__init__.py")
        graph[name] = {
            target
            for node in ast.walk(tree)
            if isinstance(node, (ast.Import, ast.ImportFrom))
            for target in _imported(node, name, is_package, modules)
            if target != name
        }
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One circle per strongly connected component of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_reader_sees_imports_inside_functions():
    graph = import_graph()
    # Known edges: a top-level import, a function-level one, a `from package import module`.
    assert "tfinpaint.artifacts" in graph["tfinpaint.inference.loading"]
    assert "tfinpaint.models.paper1" in graph["tfinpaint.inference.loading"]  # inside load_generator
    assert "tfinpaint.metrics" in graph["tfinpaint.evaluation.evaluate"]
    assert graph["tfinpaint.artifacts"] == set(), "artifacts must stay a leaf"
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_circle():
    assert cycles(import_graph()) == []


def test_networks_do_not_import_their_trainers():
    graph = import_graph()
    offenders = {
        module: sorted(t for t in targets if t.startswith("tfinpaint.training"))
        for module, targets in graph.items()
        if module.startswith("tfinpaint.models")
    }
    assert {m: t for m, t in offenders.items() if t} == {}


def test_models_do_not_import_inference_or_export():
    graph = import_graph()
    assert not {
        (module, target)
        for module, targets in graph.items()
        if module.startswith("tfinpaint.models")
        for target in targets
        if target.startswith(("tfinpaint.inference", "tfinpaint.export", "tfinpaint.artifacts"))
    }


# A module a reader can hold in mind; a function a reader can follow without scrolling, in the
# rooms with the most control flow (issue 21's bar).
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80
FUNCTION_ROOMS = ("training", "inference", "serving")


def test_modules_and_functions_stay_readable():
    too_long = []
    for folder, _, files in os.walk(PACKAGE_DIR):
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            relative = os.path.relpath(path, PACKAGE_DIR)
            with open(path, encoding="utf-8") as f:
                source = f.read()
            if source.count("\n") > MAX_MODULE_LINES:
                too_long.append(f"{relative}: {source.count(chr(10))} lines (max {MAX_MODULE_LINES})")
            if relative.split(os.sep)[0] not in FUNCTION_ROOMS:
                continue
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    length = node.end_lineno - node.lineno + 1
                    if length > MAX_FUNCTION_LINES:
                        too_long.append(
                            f"{relative}: {node.name} is {length} lines (max {MAX_FUNCTION_LINES})"
                        )
    assert not too_long, "\n".join(too_long)
