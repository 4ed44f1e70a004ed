import numpy as np
import matplotlib.pyplot as plt


def f(x):
    return (10 * x**2 + np.exp(3 * (x - 3)) * ((x - 10) ** 2 / 2 + 50)) / (1 + np.exp(3 * (x - 3)))


def fprime(x):
    s = 1 / (1 + np.exp(-3 * (x - 3)))
    return (1 - s) * 20 * x + s * (x - 10) + 3 * s * (1 - s) * (((x - 10) ** 2 / 2 + 50) - 10 * x**2)


# 200 random starts as one array, 1000 steps, for each alpha; keep the whole history for the plots
np.seterr(all="ignore")
rng = np.random.default_rng(2024)
starts = rng.uniform(-5, 20, size=200)
fig, axes = plt.subplots(1, 3, figsize=(12, 3))
for ax, alpha in zip(axes, [0.01, 0.3, 4]):
    x = starts.copy()
    history = [x.copy()]
    for k in range(1000):
        x = x - alpha * fprime(x)
        history.append(x.copy())
    history = np.array(history)
    ax.plot(np.clip(history[:, :20], -50, 50))
    ax.set_title(f"alpha = {alpha}")
    near0 = np.sum(np.abs(x) < 0.5)
    near10 = np.sum(np.abs(x - 10) < 0.5)
    print(f"alpha={alpha}: {near0} near 0, {near10} near 10, {200 - near0 - near10} elsewhere")
plt.show()
