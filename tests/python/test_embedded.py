"""The embedded `bytewax` package: the bytecode built into the binary is
that of the embedded sources."""

import bytewax
import bytewax.operators


def _loader():
    return bytewax.operators.__loader__


def test_build_time_bytecode_is_used_and_matches_the_sources():
    loader = _loader()
    assert loader._use_code, "the binary should start from its built-in bytecode"
    names = sorted(loader._modules)
    assert "bytewax.operators.window" in names
    for name in names:
        _is_package, relpath, source, code = loader._modules[name]
        assert code, f"{name} has no built-in bytecode"
        built = loader.get_code(name)
        fresh = compile(source, "<embedded>/" + relpath, "exec", dont_inherit=True)
        assert built.co_filename == fresh.co_filename
        assert built.co_code == fresh.co_code, f"{name}: bytecode is stale"
        assert built.co_consts == fresh.co_consts, f"{name}: bytecode is stale"


def test_names_flows_import_from_where_0_18_had_them():
    # Flows written for 0.18 import these from these modules.
    from bytewax.connectors.files import batch
    from bytewax.inputs import batch as inputs_batch
    from bytewax.operators import EMPTY, UnaryLogic
    from bytewax.recovery import RecoveryConfig
    from bytewax.run import RecoveryConfig as run_recovery_config
    from bytewax.testing import RecoveryConfig as testing_recovery_config

    assert EMPTY == () and (EMPTY, UnaryLogic.RETAIN) == ((), False)
    assert run_recovery_config is RecoveryConfig
    assert testing_recovery_config is RecoveryConfig
    assert batch is inputs_batch
    import bytewax.operators

    assert "EMPTY" in bytewax.operators.__all__
