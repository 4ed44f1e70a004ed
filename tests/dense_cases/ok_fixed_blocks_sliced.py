import numpy as np


def huber_loss(x):
    return np.sum((1 / 2) * (x**2) * (np.abs(x) <= 1) + (np.sign(x) * x - 1 / 2) * (np.abs(x) > 1))


def huber_grad(x):
    return x * (np.abs(x) <= 1) + np.sign(x) * (np.abs(x) > 1)


B = 16  # outputs per block: a fixed (B, B + r - 1) block, its last use sliced to the outputs left


class Convolution1d:
    """Block Toeplitz products: one (B, B+r−1) block built in the constructor, reused along x."""

    def __init__(self, filt):
        self.k = np.asarray(filt, dtype=float)
        r = self.k.size
        self.block = np.zeros((B, B + r - 1))
        for a in range(B):
            self.block[a, a:a + r] = self.k
        self.T = TransposedConvolution1d(self)

    def __matmul__(self, x):
        r = self.k.size
        m = x.size - r + 1
        out = np.empty(m)
        for start in range(0, m, B):
            rows = min(B, m - start)
            out[start:start + rows] = self.block[:rows, :rows + r - 1] @ x[start:start + rows + r - 1]
        return out


class TransposedConvolution1d:
    def __init__(self, forward):
        self.forward = forward

    def __matmul__(self, y):
        block, r = self.forward.block, self.forward.k.size
        m = y.size
        out = np.zeros(m + r - 1)
        for start in range(0, m, B):
            rows = min(B, m - start)
            out[start:start + rows + r - 1] += block[:rows, :rows + r - 1].T @ y[start:start + rows]
        return out
