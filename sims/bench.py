WORKLOADS = {"confounding": None}
def main(args):
    return 0
