"""numba's cache keyed by what a kernel imports (`estimators.kernel_cache`): numba alone keys a cached kernel by
its own file, so after a change to a module it calls (the synthetic solver, last session) the old machine code
was loaded and gave the old numbers until the cache was cleared by hand."""

from pathlib import Path

from causalmc.estimators import kernel_cache
from causalmc.estimators.rd import local_polynomial
from causalmc.estimators.synth import kernel as synth_kernel


def test_a_change_in_an_imported_module_changes_the_stamp(tmp_path):
    """Relative (``from .b``, ``from .. import c``) and absolute imports inside a tree are followed, transitively;
    a file the kernel's module does not import leaves its stamp alone."""
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "c.py").write_text("X = 1\n")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "a.py").write_text("from .b import f\nfrom .. import c\n")
    (package / "sub" / "b.py").write_text("from pkg.d import g\n")
    (package / "d.py").write_text("def g():\n    return 1\n")
    (package / "unrelated.py").write_text("")
    roots = {"pkg": package}
    kernel = package / "sub" / "a.py"
    before = kernel_cache.dependency_stamp(kernel, roots)
    (package / "unrelated.py").write_text("Y = 2\n")
    assert kernel_cache.dependency_stamp(kernel, roots) == before
    (package / "d.py").write_text("def g():\n    return 2\n")  # two imports away, absolute
    after_d = kernel_cache.dependency_stamp(kernel, roots)
    assert after_d != before
    (package / "c.py").write_text("X = 2\n")  # ``from .. import c``
    assert kernel_cache.dependency_stamp(kernel, roots) != after_d


def test_the_package_kernels_are_cached_under_the_dependency_stamp():
    """The shipped kernels use the locator (a kernel's stamp covers the solver it calls); a function outside the
    package keeps numba's own locator."""
    from numba import njit

    locator = synth_kernel.synth_kernel._cache._impl._locator
    assert isinstance(locator, kernel_cache.InTreeLocator | kernel_cache.UserProvidedLocator)
    files = kernel_cache.imported_files(
        Path(synth_kernel.__file__).resolve(), tuple(sorted(kernel_cache.package_roots().items()))
    )
    assert Path(synth_kernel.__file__).resolve().with_name("solver.py") in files
    assert Path(local_polynomial.__file__).resolve() not in files

    @njit(cache=True)
    def outside(x):  # this test file is not in the package
        return x

    assert not isinstance(outside._cache._impl._locator, kernel_cache.InTreeLocator | kernel_cache.UserProvidedLocator)
