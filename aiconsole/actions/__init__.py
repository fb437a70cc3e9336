"""Operator actions (drain, resume, requeue, rebalance): plan -> confirm -> execute -> audit.

Empty until the first action lands; the package exists so the layout is the final one.
"""
