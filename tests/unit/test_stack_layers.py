"""The local stack reads a ``makefile``-built layer (SharedLayer) from its sources, as it reads a
``python*`` one."""

from parity_dev.stack import local_layer_dirs


def test_the_local_stack_finds_the_makefile_built_layer_sources(tmp_path):
    template = {"Resources": {
        "SharedLayer": {"Type": "AWS::Serverless::LayerVersion", "Properties": {"ContentUri": "layers/shared"}, "Metadata": {"BuildMethod": "makefile"}},
        "Other": {"Type": "AWS::Serverless::LayerVersion", "Properties": {"ContentUri": "layers/node"}, "Metadata": {"BuildMethod": "nodejs20.x"}},
    }}
    assert local_layer_dirs(template, tmp_path) == [(tmp_path / "layers" / "shared").resolve()]
