# Serves the `bytewax` package from sources compiled into the binary.
#
# Installed first on `sys.meta_path`, so the embedded package always wins
# over a `bytewax` pip-installed in the active environment. Packages get a
# `__path__` of `<embedded>/...` entries, handled by a path hook, so tools
# that walk packages (`pkgutil.walk_packages`, doctest collectors) see the
# embedded modules too.
import marshal
import sys
from importlib.machinery import ModuleSpec
from importlib.util import MAGIC_NUMBER

PREFIX = "<embedded>/"


class EmbeddedImporter:
    """Finder and loader for `bytewax.*` modules built into the binary."""

    def __init__(self, modules, native, build_magic):
        # name -> (is_package, relative path, source text, marshalled code)
        self._modules = modules
        self._native = native
        # Bytecode made at build time is only valid for the same CPython
        # bytecode version and the default optimisation level.
        self._use_code = build_magic == MAGIC_NUMBER and sys.flags.optimize == 0

    def find_spec(self, fullname, path=None, target=None):
        if fullname == "bytewax.bytewax":
            return ModuleSpec(fullname, self, origin="built-in")
        entry = self._modules.get(fullname)
        if entry is None:
            return None
        is_package, relpath = entry[0], entry[1]
        spec = ModuleSpec(
            fullname, self, origin=PREFIX + relpath, is_package=is_package
        )
        spec.has_location = True
        if is_package:
            spec.submodule_search_locations = [PREFIX + fullname.replace(".", "/")]
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
        _is_package, relpath, source, code = self._modules[fullname]
        if code and self._use_code:
            return marshal.loads(code)
        return compile(source, PREFIX + relpath, "exec", dont_inherit=True)

    def get_source(self, fullname):
        entry = self._modules.get(fullname)
        return None if entry is None else entry[2]

    def is_package(self, fullname):
        entry = self._modules.get(fullname)
        if entry is None:
            raise ImportError(f"no embedded module {fullname!r}", name=fullname)
        return entry[0]

    def path_hook(self, path):
        """`sys.path_hooks` entry for the `<embedded>/...` package paths."""
        if not path.startswith(PREFIX):
            raise ImportError("not an embedded path")
        return EmbeddedPath(self, path[len(PREFIX) :].replace("/", "."))


class EmbeddedPath:
    """The modules directly inside one embedded package."""

    def __init__(self, importer, package):
        self._importer = importer
        self._package = package

    def find_spec(self, fullname, target=None):
        return self._importer.find_spec(fullname)

    def iter_modules(self, prefix=""):
        depth = self._package.count(".") + 1
        names = sorted(self._importer._modules) + ["bytewax.bytewax"]
        for name in names:
            if name.startswith(self._package + ".") and name.count(".") == depth:
                is_package = name in self._importer._modules and self._importer._modules[name][0]
                yield prefix + name.rsplit(".", 1)[1], is_package


def install(modules, native, build_magic):
    for finder in sys.meta_path:
        if isinstance(finder, EmbeddedImporter):
            return
    importer = EmbeddedImporter(modules, native, build_magic)
    sys.meta_path.insert(0, importer)
    sys.path_hooks.insert(0, importer.path_hook)
