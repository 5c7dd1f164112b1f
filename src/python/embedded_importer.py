# Serves the `bytewax` package from sources compiled into the binary.
#
# Installed first on `sys.meta_path`, so the embedded package always wins
# over a `bytewax` pip-installed in the active environment.
import sys
from importlib.machinery import ModuleSpec


class EmbeddedImporter:
    """Finder and loader for `bytewax.*` modules built into the binary."""

    def __init__(self, modules, native):
        # name -> (is_package, relative path, source text)
        self._modules = modules
        self._native = native

    def find_spec(self, fullname, path=None, target=None):
        if fullname == "bytewax.bytewax":
            return ModuleSpec(fullname, self, origin="built-in")
        entry = self._modules.get(fullname)
        if entry is None:
            return None
        is_package, relpath, _source = entry
        spec = ModuleSpec(
            fullname, self, origin=f"<embedded>/{relpath}", is_package=is_package
        )
        spec.has_location = True
        if is_package:
            spec.submodule_search_locations = []
        return spec

    def create_module(self, spec):
        if spec.name == "bytewax.bytewax":
            return self._native
        return None

    def exec_module(self, module):
        name = module.__spec__.name
        if name == "bytewax.bytewax":
            return
        exec(self.get_code(name), module.__dict__)

    def get_code(self, fullname):
        is_package, relpath, source = self._modules[fullname]
        return compile(source, f"<embedded>/{relpath}", "exec", dont_inherit=True)

    def get_source(self, fullname):
        entry = self._modules.get(fullname)
        return None if entry is None else entry[2]

    def is_package(self, fullname):
        entry = self._modules.get(fullname)
        if entry is None:
            raise ImportError(f"no embedded module {fullname!r}", name=fullname)
        return entry[0]


def install(modules, native):
    for finder in sys.meta_path:
        if isinstance(finder, EmbeddedImporter):
            return
    sys.meta_path.insert(0, EmbeddedImporter(modules, native))
