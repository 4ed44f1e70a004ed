import numpy as np


def huber_loss(x):
    return np.sum((1 / 2) * (x**2) * (np.abs(x) <= 1) + (np.sign(x) * x - 1 / 2) * (np.abs(x) > 1))


def huber_grad(x):
    return x * (np.abs(x) <= 1) + np.sign(x) * (np.abs(x) > 1)


from scipy.linalg import circulant


class Convolution1d:
    def __init__(self, filt):
        self.__filt = filt
        self.__r = filt.size
        n = 20                                    # n from the problem statement
        self.__A = circulant(np.concatenate((np.flip(filt), np.zeros(n - self.__r))))[self.__r - 1:, :]
        self.T = TransposedConvolution1d(self.__A)

    def __matmul__(self, vector):
        return self.__A @ vector


class TransposedConvolution1d:
    def __init__(self, A):
        self.__A = A

    def __matmul__(self, vector):
        return self.__A.T @ vector
