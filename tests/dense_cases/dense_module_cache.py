import numpy as np


def huber_loss(x):
    return np.sum((1 / 2) * (x**2) * (np.abs(x) <= 1) + (np.sign(x) * x - 1 / 2) * (np.abs(x) > 1))


def huber_grad(x):
    return x * (np.abs(x) <= 1) + np.sign(x) * (np.abs(x) > 1)

_CACHE = {}


def _matrix(k, n):
    key = (n, tuple(np.round(k, 12)))
    if key not in _CACHE:
        r = len(k)
        rows = []
        for i in range(n - r + 1):
            row = np.zeros(n)
            row[i : i + r] = k
            rows.append(row)
        _CACHE[key] = np.vstack(rows)
    return _CACHE[key]


class Convolution1d:
    def __init__(self, filt):
        self.__filt = filt
        self.__r = filt.size
        self.T = TransposedConvolution1d(self.__filt)

    def __matmul__(self, vector):
        return _matrix(self.__filt, vector.size) @ vector


class TransposedConvolution1d:
    def __init__(self, filt):
        self.__filt = filt
        self.__r = filt.size

    def __matmul__(self, vector):
        return vector @ _matrix(self.__filt, vector.size + self.__r - 1)


