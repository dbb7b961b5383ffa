"""A small module to try spark-lsp on: `spark-lsp complete --demo` completes is_prime."""


def fibonacci(n: int) -> int:
    """Return the n-th Fibonacci number (fibonacci(0) == 0, fibonacci(1) == 1)."""
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def is_prime(n: int) -> bool:
    """Return True when n is a prime number."""
    if n < 2:
        return False
    for d in range(2, int(n**0.5) + 1):
        if n % d == 0:
            return 


if __name__ == "__main__":
    print([fibonacci(i) for i in range(10)], is_prime(97))
