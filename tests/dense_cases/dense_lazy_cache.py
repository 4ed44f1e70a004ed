import numpy as np


def huber_loss(x):
    return np.sum((1 / 2) * (x**2) * (np.abs(x) <= 1) + (np.sign(x) * x - 1 / 2) * (np.abs(x) > 1))


def huber_grad(x):
    return x * (np.abs(x) <= 1) + np.sign(x) * (np.abs(x) > 1)


class Convolution1d:
    def __init__(self, filt):
        self.__filt = filt
        self.__r = filt.size
        self.__dense = None
        self.T = TransposedConvolution1d(self)

    def matrix(self, n):
        # Built once, on the first product, then reused.
        if self.__dense is None or self.__dense.shape[1] != n:
            r = self.__r
            self.__dense = np.zeros((n - r + 1, n))
            for i in range(n - r + 1):
                self.__dense[i, i : i + r] = self.__filt
        return self.__dense

    def __matmul__(self, vector):
        return self.matrix(vector.size) @ vector


class TransposedConvolution1d:
    def __init__(self, forward):
        self.forward = forward

    def __matmul__(self, vector):
        r = self.forward._Convolution1d__r
        return self.forward.matrix(vector.size + r - 1).T @ vector


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

