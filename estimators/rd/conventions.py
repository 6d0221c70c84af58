"""What the ``rd`` kernel and its twin share: the terms, option codes, rdrobust's constants, the columns."""

TERMS = ("conventional", "bias_corrected", "robust")
FIRST_STAGE_TERMS = ("first_stage_conventional", "first_stage_bias_corrected", "first_stage_robust")
KERNELS = ("triangular", "epanechnikov", "uniform")
TRIANGULAR, EPANECHNIKOV, UNIFORM = range(3)
VCE_TYPES = ("nn", "hc0", "hc1", "hc2", "hc3", "cr1", "cr2", "cr3")
NN, HC0, HC1, HC2, HC3, CR1, CR2, CR3 = range(8)
UNCLUSTERED_VCE = VCE_TYPES[:CR1]  # the cr codes need a cluster
# with cluster, rdrobust 2.1.1 switches nn, hc0, hc1 to cr1, hc2 to cr2 and hc3 to cr3 (with a warning)
CLUSTER_VCE = {NN: CR1, HC0: CR1, HC1: CR1, HC2: CR2, HC3: CR3, CR1: CR1, CR2: CR2, CR3: CR3}
# h and b as given, or rdrobust's rdbwselect methods, in rdbwselect's order
BWSELECT = (
    "fixed", "mserd", "msetwo", "msesum", "msecomb1", "msecomb2", "cerrd", "certwo", "cersum", "cercomb1", "cercomb2",
)  # fmt: skip
FIXED, MSERD, MSETWO, MSESUM, MSECOMB1, MSECOMB2, CERRD, CERTWO, CERSUM, CERCOMB1, CERCOMB2 = range(11)
MASSPOINTS = ("adjust", "off")  # rdrobust's "check" selects as "off" does (it only prints a notice)
NN_MATCHES = 3  # rdrobust's nnmatch default
HII_FLOOR = 1e-8  # rdrobust floors 1 − h_ii here for hc2/hc3
DIAGNOSTICS = ("h", "b", "n_h_left", "n_h_right", "h_right", "b_right")
H, B, N_LEFT, N_RIGHT, H_RIGHT, B_RIGHT = 5, 6, 7, 8, 9, 10  # their columns


def codes(options):
    """(p, kernel code, h, b, vce code, bwselect code) of the options; b defaults to h.  With ``cluster`` the vce
    code is rdrobust's cluster-robust one (`CLUSTER_VCE`): CR1, CR2 or CR3."""
    h = float(options["h"])
    b = h if options.get("b") is None else float(options["b"])
    bwselect = BWSELECT.index(options.get("bwselect", "fixed"))
    vce = VCE_TYPES.index(options["vce"])
    if options.get("cluster") is not None:
        vce = CLUSTER_VCE[vce]
    return options["p"], KERNELS.index(options["kernel"]), h, b, vce, bwselect


def design(options):
    """(deriv, fuzzy, clustered, masspoints adjust) of the options."""
    return (
        int(options.get("deriv", 0)),
        options.get("fuzzy") is not None,
        options.get("cluster") is not None,
        options.get("masspoints", "adjust") == "adjust",
    )


def terms(shapes, options):
    """The three rows, and the first stage's three rows in a fuzzy design."""
    return TERMS + FIRST_STAGE_TERMS if options.get("fuzzy") is not None else TERMS


def option_needs(options):
    """A fuzzy design reads the take-up array named by ``fuzzy``, a clustered one the ids named by ``cluster``, and
    ``covs`` its covariates."""
    named = tuple(options[k] for k in ("fuzzy", "cluster") if options.get(k) is not None)
    return named + tuple(options.get("covs") or ())
