import numpy as np


def huber_loss(x):
    return np.sum((1 / 2) * (x**2) * (np.abs(x) <= 1) + (np.sign(x) * x - 1 / 2) * (np.abs(x) > 1))


def huber_grad(x):
    return x * (np.abs(x) <= 1) + np.sign(x) * (np.abs(x) > 1)



class Convolution1d:
    def __init__(self, filt):
        self.k = np.asarray(filt, dtype=float)
        self.r = self.k.size
        self.T = TransposedConvolution1d(self.k)

    def __matmul__(self, vector):
        k, r = self.k, self.r
        x = np.asarray(vector)
        n = x.size
        m = n - r + 1
        A = {(i, i + j): k[j] for i in range(m) for j in range(r)}   # dictionary-of-keys sparse A
        keys = list(A)
        out = np.zeros(m)
        for (i, c) in keys:
            out[i] += A[i, c] * x[c]
        return out

class TransposedConvolution1d:
    def __init__(self, filt):
        self.k = np.asarray(filt, dtype=float)
        self.r = self.k.size

    def __matmul__(self, vector):
        k, r = self.k, self.r
        y = np.asarray(vector)
        m = y.size
        n = m + r - 1
        A = {(i, i + j): k[j] for i in range(m) for j in range(r)}
        AT = {(c, i): v for (i, c), v in A.items()}                   # its transpose, also sparse
        out = np.zeros(n)
        for (c, i), v in AT.items():
            out[c] += v * y[i]
        return out


