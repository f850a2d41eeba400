"""Every rendered Kubernetes object against the official OpenAPI schemas, strict mode.

Strict mode rejects unknown fields, so a typo such as `volumeMount` or a field that a Kubernetes
version does not know fails here instead of at `pulumi up` on the ICC.
"""

import kubernetes_validate
import pytest

# ICC and Minikube run Kubernetes 1.29 to 1.33.
KUBERNETES_VERSIONS = ["1.29", "1.30", "1.31", "1.32", "1.33"]


def validate_all(objects, version):
    assert objects, "nothing rendered"
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(p) for p in error.path)
            pytest.fail(
                f"{obj['kind']}/{obj['metadata'].get('name')} invalid for {version} "
                f"at {path}: {error.message}"
            )


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("stack", ["icc", "minikube"])
def test_rendered_objects_match_the_kubernetes_schema(stack, version, request):
    validate_all(request.getfixturevalue(stack).kubernetes_objects(), version)


def test_strict_validation_catches_an_unknown_field(minikube):
    statefulset = next(o for o in minikube.kubernetes_objects() if o["kind"] == "StatefulSet")
    statefulset["spec"]["template"]["spec"]["containers"][0]["volumeMount"] = []
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(statefulset, "1.33", strict=True)
