"""Reference solution for Problem 5: 1-D convolution as a matrix-free operator.

``Convolution1d(k) @ x`` computes ``(Ax)_i = sum_j k_j x_{i+j}`` for
``i = 0 … n-r`` and ``A.T @ y`` computes ``(A^T y)_j = sum_i k_{j-i} y_i``,
each in O(n·r) time and O(n) memory: the (n-r+1)×n matrix is never formed.
"""

import numpy as np


def huber_loss(x):
    """Sum of the element-wise Huber function h(x_i)."""
    return np.sum((1 / 2) * (x**2) * (np.abs(x) <= 1) + (np.sign(x) * x - 1 / 2) * (np.abs(x) > 1))


def huber_grad(x):
    """Gradient of :func:`huber_loss`."""
    return x * (np.abs(x) <= 1) + np.sign(x) * (np.abs(x) > 1)


class Convolution1d:
    """The operator A defined by the filter k (length r), acting on vectors of any length n >= r."""

    def __init__(self, filt):
        self.__filt = np.asarray(filt)
        self.__r = self.__filt.size
        self.T = TransposedConvolution1d(self.__filt)

    def __matmul__(self, vector):
        r, n = self.__r, vector.size
        # Cross-correlation: output i sees x[i : i + r].
        return np.asarray([self.__filt @ vector[i : i + r] for i in range(n - r + 1)])


class TransposedConvolution1d:
    """A^T: maps a vector of length n-r+1 back to length n."""

    def __init__(self, filt):
        self.__filt = np.asarray(filt)
        self.__r = self.__filt.size

    def __matmul__(self, vector):
        r = self.__r
        n = vector.size + r - 1
        # Pad y with r-1 zeros on both sides; output j sees flip(k) over y[j-r+1 : j+1].
        padded = np.concatenate((np.zeros(r - 1), vector, np.zeros(r - 1)))
        flipped = self.__filt[::-1]
        return np.asarray([flipped @ padded[j : j + r] for j in range(n)])


if __name__ == "__main__":
    r, n, lam = 3, 20, 0.1
    np.random.seed(0)
    k = np.random.randn(r)
    b = np.random.randn(n - r + 1)
    A = Convolution1d(k)
    x = np.zeros(n)
    alpha = 0.01
    for _ in range(100):
        x = x - alpha * (A.T @ (huber_grad(A @ x - b)) + lam * x)
    print(huber_loss(A @ x - b) + lam / 2 * np.linalg.norm(x) ** 2)
