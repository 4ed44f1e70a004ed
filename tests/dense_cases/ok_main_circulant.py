import numpy as np


def huber_loss(x):
    return np.sum((1 / 2) * (x**2) * (np.abs(x) <= 1) + (np.sign(x) * x - 1 / 2) * (np.abs(x) > 1))


def huber_grad(x):
    return x * (np.abs(x) <= 1) + np.sign(x) * (np.abs(x) > 1)


class Convolution1d:
    def __init__(self, filt):
        self.__filt = filt
        self.__r = filt.size
        self.T = TransposedConvolution1d(self.__filt)

    def __matmul__(self, vector):
        r, n = self.__r, vector.size
        return np.array([np.sum(self.__filt * vector[i : i + r]) for i in range(n - r + 1)])


class TransposedConvolution1d:
    def __init__(self, filt):
        self.__filt = filt
        self.__r = filt.size

    def __matmul__(self, vector):
        r = self.__r
        n = vector.size + r - 1
        out = np.zeros(n)
        for i, value in enumerate(vector):
            out[i : i + r] += value * self.__filt
        return out


if __name__ == "__main__":
    from scipy.linalg import circulant

    # Compare with the dense matrix, at the size of the handout and a large one.
    for r, n in [(3, 20), (5, 4000)]:
        k = np.random.randn(r)
        dense = circulant(np.concatenate((np.flip(k), np.zeros(n - r))))[r - 1 :, :]
        x, y = np.random.randn(n), np.random.randn(n - r + 1)
        print(np.allclose(Convolution1d(k) @ x, dense @ x), np.allclose(Convolution1d(k).T @ y, dense.T @ y))
