import numpy as np


def huber_loss(x):
    return np.sum((1 / 2) * (x**2) * (np.abs(x) <= 1) + (np.sign(x) * x - 1 / 2) * (np.abs(x) > 1))


def huber_grad(x):
    return x * (np.abs(x) <= 1) + np.sign(x) * (np.abs(x) > 1)

from numpy.lib.stride_tricks import sliding_window_view


class Convolution1d:
    def __init__(self, filt):
        self.__filt = filt
        self.__r = filt.size
        self.T = TransposedConvolution1d(self.__filt)

    def __matmul__(self, vector):
        windows = sliding_window_view(vector, self.__r)  # shape (n-r+1, r)
        return windows @ self.__filt


class TransposedConvolution1d:
    def __init__(self, filt):
        self.__filt = filt
        self.__r = filt.size

    def __matmul__(self, vector):
        r = self.__r
        padded = np.pad(vector, (r - 1, r - 1))
        return sliding_window_view(padded, r) @ self.__filt[::-1]


r, n, lam = 3, 20, 0.1

np.random.seed(0)
k = np.random.randn(r)
b = np.random.randn(n - r + 1)
A = Convolution1d(k)

from scipy.linalg import circulant

As = circulant(np.concatenate((np.flip(k), np.zeros(n - r))))[r - 1 :, :]

x = np.zeros(n)
alpha = 0.01
for _ in range(100):
    x = x - alpha * (A.T @ (huber_grad(A @ x - b)) + lam * x)
print(huber_loss(A @ x - b) + lam / 2 * np.linalg.norm(x) ** 2)

