"""The functions, the layer and the layer's build agree on one architecture (issue 17: arm64)."""

import re
from pathlib import Path

from parity_dev.bench import cost
from parity_dev.stack import load_template

ROOT = Path(__file__).resolve().parents[2]


def test_functions_layer_and_layer_build_are_all_arm64():
    template = load_template(ROOT / "template.yaml")
    layer = template["Resources"]["SharedLayer"]
    assert cost.architecture(template) == "arm64"
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    assert layer["Metadata"]["BuildArchitecture"] == "arm64"
    makefile = (ROOT / "layers" / "shared" / "Makefile").read_text()
    assert re.search(r"^LAYER_ARCH \?= arm64$", makefile, re.M)
    assert "--platform manylinux2014_aarch64" in makefile and "--python-version 3.12" in makefile
    assert not any(r.get("Properties", {}).get("Architectures", ["arm64"]) != ["arm64"] for r in template["Resources"].values() if r.get("Type") == "AWS::Serverless::Function")


def test_the_cost_model_prices_duration_by_architecture():
    assert cost.gb_second_price("arm64") == cost.PRICES["lambda_gb_second_arm64"] < cost.gb_second_price("x86_64")
