import numpy as np
import sympy as sp
import matplotlib.pyplot as plt

t = sp.symbols("t")
f_expr = (10 * t**2 + sp.exp(3 * (t - 3)) * ((t - 10) ** 2 / 2 + 50)) / (1 + sp.exp(3 * (t - 3)))
f = sp.lambdify(t, f_expr, "numpy")
fprime = sp.lambdify(t, sp.diff(f_expr, t), "numpy")   # let sympy do the derivative

np.seterr(all="ignore")
np.random.seed(8)
for alpha in [0.01, 0.3, 4]:
    out = []
    for _ in range(20):
        x = np.random.uniform(-5, 20)
        for _ in range(1000):
            x = x - alpha * fprime(x)
        out.append(x)
    print(alpha, np.round(out, 2))
