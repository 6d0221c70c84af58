"""What the ``rd`` kernel and its twin share: the terms, option codes, rdrobust's constants, the columns."""

TERMS = ("conventional", "bias_corrected", "robust")
KERNELS = ("triangular", "epanechnikov", "uniform")
TRIANGULAR, EPANECHNIKOV, UNIFORM = range(3)
VCE_TYPES = ("nn", "hc0", "hc1", "hc2", "hc3")
NN, HC0, HC1, HC2, HC3 = range(5)
BWSELECT = ("fixed", "mserd")  # h and b as given, or rdrobust's rdbwselect "mserd"
FIXED, MSERD = range(2)
NN_MATCHES = 3  # rdrobust's nnmatch default
HII_FLOOR = 1e-8  # rdrobust floors 1 − h_ii here for hc2/hc3
DIAGNOSTICS = ("h", "b", "n_h_left", "n_h_right")
H, B, N_LEFT, N_RIGHT = 5, 6, 7, 8  # their columns


def codes(options):
    """(p, kernel code, h, b, vce code, bwselect code) of the options; b defaults to h."""
    h = float(options["h"])
    b = h if options.get("b") is None else float(options["b"])
    bwselect = BWSELECT.index(options.get("bwselect", "fixed"))
    return options["p"], KERNELS.index(options["kernel"]), h, b, VCE_TYPES.index(options["vce"]), bwselect
