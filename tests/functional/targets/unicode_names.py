# -*- coding: utf-8 -*-
# Non-ASCII function names (Python 3 only: 2.7 identifiers are ASCII).
# The parser NFKC-normalises identifiers, so 𝔣𝔬𝔬 becomes "foo"; the names
# the runner expects are the co_name/co_qualname reported in the ready file.
import target_support as ts


def 𠀋𐐷_spin():
    n = 0
    while True: n += 1; _ = n == 20000 and ts.arrive("MainThread")  # @spin


def 𝔣𝔬𝔬():
    𠀋𐐷_spin()  # @call-spin


def 数据处理():
    𝔣𝔬𝔬()  # @call-foo


def calcul_décimal():
    数据处理()  # @call-data


def main():
    ts.expect("MainThread")
    ts.names(spin=𠀋𐐷_spin, foo=𝔣𝔬𝔬, data=数据处理, calc=calcul_décimal, main=main)
    calcul_décimal()  # @call-calc


if __name__ == "__main__":
    main()  # @call-main
