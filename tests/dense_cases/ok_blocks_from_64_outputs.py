import numpy as np


def huber_loss(x):
    return np.sum((1 / 2) * (x**2) * (np.abs(x) <= 1) + (np.sign(x) * x - 1 / 2) * (np.abs(x) > 1))


def huber_grad(x):
    return x * (np.abs(x) <= 1) + np.sign(x) * (np.abs(x) > 1)

B = 8          # block length for the blocked product
MIN_BLOCKED = 64   # below this many outputs a direct loop is faster than blocking


class Convolution1d:
    def __init__(self, filt):
        self.k = np.asarray(filt, dtype=float)
        r = self.k.size
        self.block = np.zeros((B, B + r - 1))
        for a in range(B):
            self.block[a, a:a + r] = self.k
        self.T = TransposedConvolution1d(self)

    def __matmul__(self, x):
        x = np.asarray(x, dtype=float)
        r, n = self.k.size, x.size
        m = n - r + 1
        if m < MIN_BLOCKED:
            return np.array([self.k @ x[i:i + r] for i in range(m)])
        nb = -(-m // B)
        xp = np.zeros(nb * B + r - 1)
        xp[:n] = x
        out = np.empty(nb * B)
        for b in range(nb):
            out[b * B:(b + 1) * B] = self.block @ xp[b * B:b * B + B + r - 1]
        return out[:m]


class TransposedConvolution1d:
    def __init__(self, fwd):
        self.fwd = fwd

    def __matmul__(self, y):
        y = np.asarray(y, dtype=float)
        k = self.fwd.k
        r, m = k.size, y.size
        n = m + r - 1
        if m < MIN_BLOCKED:
            out = np.zeros(n)
            for j in range(r):
                out[j:j + m] += k[j] * y
            return out
        nb = -(-m // B)
        yp = np.zeros(nb * B)
        yp[:m] = y
        out = np.zeros(nb * B + r - 1)
        for b in range(nb):
            out[b * B:b * B + B + r - 1] += self.fwd.block.T @ yp[b * B:(b + 1) * B]
        return out[:n]
