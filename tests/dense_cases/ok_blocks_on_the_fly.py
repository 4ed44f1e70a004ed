import numpy as np


def huber_loss(x):
    return np.sum((1 / 2) * (x**2) * (np.abs(x) <= 1) + (np.sign(x) * x - 1 / 2) * (np.abs(x) > 1))


def huber_grad(x):
    return x * (np.abs(x) <= 1) + np.sign(x) * (np.abs(x) > 1)

B = 8   # outputs per block (overlap-save forward, overlap-add transpose)


def block_toeplitz(k, B):
    """T[a, a + j] = k[j]: maps B + r - 1 inputs to B outputs; its size depends on B and r only."""
    r = k.size
    T = np.zeros((B, B + r - 1))
    for a in range(B):
        T[a, a:a + r] = k
    return T


class Convolution1d:
    def __init__(self, filt):
        self.k = np.asarray(filt, dtype=float)
        self.T = TransposedConvolution1d(self.k)

    def __matmul__(self, x):
        x = np.asarray(x, dtype=float)
        r, n = self.k.size, x.size
        m = n - r + 1
        T = block_toeplitz(self.k, B)          # built on the fly, fixed size
        nb = -(-m // B)
        xp = np.zeros(nb * B + r - 1)
        xp[:n] = x
        out = np.empty(nb * B)
        for b in range(nb):
            out[b * B:(b + 1) * B] = T @ xp[b * B:b * B + B + r - 1]
        return out[:m]


class TransposedConvolution1d:
    def __init__(self, filt):
        self.k = np.asarray(filt, dtype=float)

    def __matmul__(self, y):
        y = np.asarray(y, dtype=float)
        r, m = self.k.size, y.size
        n = m + r - 1
        T = block_toeplitz(self.k, B)
        nb = -(-m // B)
        yp = np.zeros(nb * B)
        yp[:m] = y
        out = np.zeros(nb * B + r - 1)
        for b in range(nb):
            out[b * B:b * B + B + r - 1] += T.T @ yp[b * B:(b + 1) * B]
        return out[:n]
