import numpy as np


def huber_loss(x):
    return np.sum((1 / 2) * (x**2) * (np.abs(x) <= 1) + (np.sign(x) * x - 1 / 2) * (np.abs(x) > 1))


def huber_grad(x):
    return x * (np.abs(x) <= 1) + np.sign(x) * (np.abs(x) > 1)


B = 8   # fixed block length (overlap-save / im2col style): work per block is one small GEMV


def block_toeplitz(k, B):
    # T[a, a + j] = k[j]: maps a block of B + r - 1 inputs to B outputs. Its size is fixed by B and r, not n.
    r = len(k)
    T = np.zeros((B, B + r - 1))
    for a in range(B):
        T[a, a:a + r] = k
    return T


class Convolution1d:
    def __init__(self, filt):
        self.k = np.asarray(filt, dtype=float)
        self.r = self.k.size
        self.Tb = block_toeplitz(self.k, B)
        self.T = TransposedConvolution1d(self.k, self.Tb)

    def __matmul__(self, vector):
        r, n = self.r, vector.size
        m = n - r + 1
        nb = -(-m // B)
        xp = np.zeros(nb * B + r - 1)
        xp[:n] = vector
        out = np.concatenate([self.Tb @ xp[b * B:b * B + B + r - 1] for b in range(nb)])
        return out[:m]


class TransposedConvolution1d:
    def __init__(self, filt, Tb):
        self.k = np.asarray(filt, dtype=float)
        self.r = self.k.size
        self.Tb = Tb

    def __matmul__(self, vector):
        r, m = self.r, vector.size
        n = m + r - 1
        nb = -(-m // B)
        yp = np.zeros(nb * B)
        yp[:m] = vector
        out = np.zeros(nb * B + r - 1)
        for b in range(nb):
            out[b * B:b * B + B + r - 1] += self.Tb.T @ yp[b * B:(b + 1) * B]
        return out[:n]


