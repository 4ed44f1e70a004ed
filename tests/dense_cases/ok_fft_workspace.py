import numpy as np


def huber_loss(x):
    return np.sum((1 / 2) * (x**2) * (np.abs(x) <= 1) + (np.sign(x) * x - 1 / 2) * (np.abs(x) > 1))


def huber_grad(x):
    return x * (np.abs(x) <= 1) + np.sign(x) * (np.abs(x) > 1)


class Convolution1d:
    _L = 4096   # preallocated FFT workspace (two rows: signal, filter); larger inputs get a fresh one

    def __init__(self, filt):
        self.k = np.asarray(filt, dtype=float)
        self.r = self.k.size
        self.work = np.zeros((2, self._L))
        self.T = TransposedConvolution1d(self.k, self)

    def buffer(self, L):
        W = self.work if L <= self._L else np.zeros((2, L))
        W[:, :L] = 0.0
        return W[:, :L]

    def __matmul__(self, vector):
        r, n = self.r, vector.size
        L = n + r - 1
        W = self.buffer(L)
        W[0, :n] = vector
        W[1, :r] = self.k[::-1]
        F = np.fft.rfft(W, axis=1)
        return np.fft.irfft(F[0] * F[1], n=L)[r - 1:n]


class TransposedConvolution1d:
    def __init__(self, filt, parent):
        self.k = np.asarray(filt, dtype=float)
        self.r = self.k.size
        self.parent = parent

    def __matmul__(self, vector):
        r, m = self.r, vector.size
        n = m + r - 1
        W = self.parent.buffer(n)
        W[0, :m] = vector
        W[1, :r] = self.k
        F = np.fft.rfft(W, axis=1)
        return np.fft.irfft(F[0] * F[1], n=n)


